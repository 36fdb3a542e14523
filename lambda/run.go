package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/api"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/blob"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/cache"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/cacheauth"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/dbauth"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/gateway"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/store"
)

const usage = "usage: bootstrap [serve|migrate]"

// run is the whole program: it reads the environment through getenv and writes logs to stderr. `serve`
// (the default) runs the Lambda runtime loop when AWS_LAMBDA_RUNTIME_API is set and an HTTP server on
// LISTEN_ADDR otherwise; `migrate` applies the embedded schema migrations and exits.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 1 {
		cmd = args[1]
	}
	if len(args) > 2 || (cmd != "serve" && cmd != "migrate") {
		return errors.New(usage)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := zerolog.New(stderr).Level(cfg.LogLevel).With().Timestamp().Logger()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	st, err := openStore(ctx, cfg, awsCfg, &log)
	if err != nil {
		return err
	}
	defer st.Close()
	if cmd == "migrate" {
		applied, err := st.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		fmt.Fprintf(stdout, "migrations applied: %v\n", applied)
		return nil
	}
	if err := cfg.requireServe(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	srv, closeDeps, err := newServer(ctx, cfg, awsCfg, st, &log)
	if err != nil {
		return err
	}
	defer closeDeps()
	if cfg.Lambda {
		lambda.StartWithOptions(invoker{adapter: gateway.New(srv), store: st},
			lambda.WithContext(ctx), lambda.WithEnableSIGTERM(func() { closeDeps(); st.Close() }))
		return nil // not reached: the runtime loop exits the process
	}
	return serveHTTP(ctx, cfg.ListenAddr, srv, &log)
}

// openStore builds the pool with the configured credentials: a Secrets Manager secret (fetched now), an
// IAM token, or the password in DATABASE_URL.
func openStore(ctx context.Context, cfg config, awsCfg aws.Config, log *zerolog.Logger) (*store.Store, error) {
	sc := store.Config{MaxConns: cfg.DBMaxConns, Logger: log}
	var host, db string
	var port int
	switch {
	case cfg.DBSecretARN != "":
		src, err := dbauth.NewSecretSource(ctx, secretsmanager.NewFromConfig(awsCfg), cfg.DBSecretARN)
		if err != nil {
			return nil, err
		}
		sec := src.Secret()
		host, port, db = sec.Host, sec.Port, sec.DBName
		sc.Credentials = src
	case cfg.DBIAMAuth:
		endpoint := net.JoinHostPort(cfg.DBHost, strconv.Itoa(cfg.DBPort))
		sc.Credentials = dbauth.NewIAMToken(endpoint, awsCfg.Region, cfg.DBUser, awsCfg.Credentials)
	}
	sc.URL = cfg.databaseURL(host, port, db)
	return store.Open(ctx, sc)
}

// newServer builds the cache, the object store and the API around st, and opens the first database
// connection so the first request does not pay for it. closeDeps closes what it built.
func newServer(ctx context.Context, cfg config, awsCfg aws.Config, st *store.Store, log *zerolog.Logger) (*api.Server, func(), error) {
	var c api.Cache
	closeDeps := func() {}
	if cfg.RedisURL != "" || cfg.RedisAddr != "" {
		password, err := redisPassword(ctx, cfg, awsCfg)
		if err != nil {
			return nil, nil, err
		}
		cc := cache.Config{
			URL: cfg.RedisURL, Addr: cfg.RedisAddr, TLS: cfg.RedisTLS, Username: cfg.RedisUsername, Password: password,
			Prefix: cfg.CachePrefix, TTL: cfg.CacheTTL, Timeout: cfg.RedisTimeout, Logger: log,
		}
		if cfg.RedisIAMAuth {
			tok, err := cacheauth.NewIAMToken(cacheauth.IAMConfig{CacheID: cfg.RedisCacheID, Serverless: cfg.RedisServerless,
				User: cfg.RedisUsername, Region: awsCfg.Region, Credentials: awsCfg.Credentials})
			if err != nil {
				return nil, nil, err
			}
			cc.Credentials = tok.Credentials
		}
		cache.RouteClientLogs(log)
		rc, err := cache.New(cc)
		if err != nil {
			return nil, nil, err
		}
		c = rc
		closeDeps = func() { _ = rc.Close() }
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.S3PathStyle })
	b := blob.New(s3c, blob.Config{Bucket: cfg.Bucket, KMSKeyID: cfg.KMSKeyID, PresignTTL: cfg.PresignTTL, DownloadTTL: cfg.DownloadTTL})
	inline := cfg.InlineMaxBytes
	if cfg.Lambda {
		inline = min(inline, gateway.MaxBinaryBody)
	}
	srv := api.NewServer(log, st, c, b, api.Config{
		KeyPrefix: cfg.KeyPrefix, MaxSize: cfg.MaxDocumentSize, InlineMax: inline,
		RequestID: func(r *http.Request) string { return gateway.RequestID(r.Context()) },
	})
	warm, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := st.Ping(warm); err != nil {
		log.Warn().Err(err).Msg("database not reachable at init; requests will retry")
	}
	if c != nil {
		if err := c.Ping(warm); err != nil {
			log.Warn().Err(err).Msg("cache not reachable at init; serving from the database")
		}
	}
	return srv, closeDeps, nil
}

// redisPassword returns the AUTH token: the REDIS_AUTH_SECRET secret's string, either the token itself or
// a JSON object with a "password" (or "token") field.
func redisPassword(ctx context.Context, cfg config, awsCfg aws.Config) (string, error) {
	if cfg.RedisAuthSecret == "" {
		return "", nil
	}
	out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &cfg.RedisAuthSecret})
	if err != nil {
		return "", fmt.Errorf("get Redis AUTH secret: %w", err)
	}
	v := aws.ToString(out.SecretString)
	if strings.HasPrefix(strings.TrimSpace(v), "{") {
		var obj struct {
			Password string `json:"password"`
			Token    string `json:"token"`
		}
		if json.Unmarshal([]byte(v), &obj) != nil || or(obj.Password, obj.Token) == "" {
			return "", errors.New("Redis AUTH secret: a JSON secret needs a password or token field")
		}
		return or(obj.Password, obj.Token), nil
	}
	if v == "" {
		return "", errors.New("Redis AUTH secret: empty")
	}
	return v, nil
}

// serveHTTP serves srv on addr until ctx ends, then drains requests for up to 10 seconds.
func serveHTTP(ctx context.Context, addr string, h http.Handler, log *zerolog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	log.Info().Str("addr", ln.Addr().String()).Msg("serving HTTP")
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return hs.Shutdown(shutdown)
}

// invoker is the Lambda handler: API Gateway proxy events go to the API; the direct invocation
// {"command":"migrate"} (which only holders of lambda:InvokeFunction can send) applies migrations.
type invoker struct {
	adapter *gateway.Adapter
	store   *store.Store
}

func (h invoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := h.adapter.Invoke(ctx, payload)
	if !errors.Is(err, gateway.ErrUnsupportedEvent) {
		return out, err
	}
	var cmd struct {
		Command string `json:"command"`
	}
	if json.Unmarshal(payload, &cmd) != nil || cmd.Command != "migrate" {
		return nil, err
	}
	applied, err := h.store.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return json.Marshal(map[string]any{"applied": applied})
}

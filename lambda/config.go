package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/api"
)

// envNames lists every variable loadConfig reads. README.md documents each one, and the api stack
// (stacks/api/lambda.tf) sets no other; tests hold all three together.
var envNames = []string{
	"AWS_LAMBDA_RUNTIME_API", "LISTEN_ADDR", "LOG_LEVEL", "AWS_REGION",
	"DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_SSLMODE", "DB_SECRET_ARN", "DB_IAM_AUTH", "DB_MAX_CONNS",
	"REDIS_URL", "REDIS_ADDR", "REDIS_TLS", "REDIS_USERNAME", "REDIS_AUTH_SECRET",
	"REDIS_IAM_AUTH", "REDIS_CACHE_ID", "REDIS_SERVERLESS", "REDIS_TIMEOUT", "CACHE_TTL", "CACHE_PREFIX",
	"BUCKET", "KMS_KEY_ID", "S3_KEY_PREFIX", "S3_FORCE_PATH_STYLE", "PRESIGN_TTL", "DOWNLOAD_TTL",
	"MAX_DOCUMENT_SIZE", "INLINE_MAX_BYTES",
}

// config is everything the function reads from its environment. README.md documents each variable.
type config struct {
	Lambda     bool // AWS_LAMBDA_RUNTIME_API is set: serve the runtime API loop
	ListenAddr string
	LogLevel   zerolog.Level

	DatabaseURL string
	DBHost      string
	DBPort      int
	DBName      string
	DBUser      string
	DBSSLMode   string
	DBSecretARN string
	DBIAMAuth   bool
	DBMaxConns  int32

	RedisURL        string
	RedisAddr       string
	RedisTLS        bool
	RedisUsername   string
	RedisAuthSecret string
	RedisIAMAuth    bool   // authenticate as RedisUsername with an ElastiCache IAM token
	RedisCacheID    string // replication group id (or serverless cache name) the token is signed for
	RedisServerless bool
	RedisTimeout    time.Duration
	CacheTTL        time.Duration
	CachePrefix     string
	Bucket          string
	KMSKeyID        string
	KeyPrefix       string
	S3PathStyle     bool
	PresignTTL      time.Duration
	DownloadTTL     time.Duration
	MaxDocumentSize int64
	InlineMaxBytes  int64
	AWSRegion       string
}

// loadConfig reads and checks the environment. Errors name the variable, never its value.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Lambda:          getenv("AWS_LAMBDA_RUNTIME_API") != "",
		ListenAddr:      or(getenv("LISTEN_ADDR"), "127.0.0.1:8081"),
		DatabaseURL:     getenv("DATABASE_URL"),
		DBHost:          getenv("DB_HOST"),
		DBName:          getenv("DB_NAME"),
		DBUser:          getenv("DB_USER"),
		DBSSLMode:       or(getenv("DB_SSLMODE"), "require"),
		DBSecretARN:     getenv("DB_SECRET_ARN"),
		RedisURL:        getenv("REDIS_URL"),
		RedisAddr:       getenv("REDIS_ADDR"),
		RedisUsername:   getenv("REDIS_USERNAME"),
		RedisAuthSecret: getenv("REDIS_AUTH_SECRET"),
		RedisCacheID:    getenv("REDIS_CACHE_ID"),
		CachePrefix:     or(getenv("CACHE_PREFIX"), "docs:"),
		Bucket:          getenv("BUCKET"),
		KMSKeyID:        getenv("KMS_KEY_ID"),
		KeyPrefix:       or(getenv("S3_KEY_PREFIX"), "documents/"),
		AWSRegion:       getenv("AWS_REGION"),
	}
	var errs []error
	parse := func(name string, fn func(string) error) {
		if v := getenv(name); v != "" {
			if err := fn(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	boolVar := func(dst *bool) func(string) error {
		return func(v string) (err error) { *dst, err = strconv.ParseBool(v); return err }
	}
	durVar := func(dst *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil && d <= 0 {
				err = errors.New("must be positive")
			}
			*dst = d
			return err
		}
	}
	sizeVar := func(dst *int64) func(string) error {
		return func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil && n <= 0 {
				err = errors.New("must be positive")
			}
			*dst = n
			return err
		}
	}
	c.LogLevel = zerolog.InfoLevel
	parse("LOG_LEVEL", func(v string) (err error) { c.LogLevel, err = zerolog.ParseLevel(strings.ToLower(v)); return err })
	c.DBPort = 5432
	parse("DB_PORT", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return errors.New("must be a port number")
		}
		c.DBPort = n
		return nil
	})
	parse("DB_IAM_AUTH", boolVar(&c.DBIAMAuth))
	c.DBMaxConns = 2
	parse("DB_MAX_CONNS", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return errors.New("must be from 1 to 100")
		}
		c.DBMaxConns = int32(n)
		return nil
	})
	parse("REDIS_TLS", boolVar(&c.RedisTLS))
	parse("REDIS_IAM_AUTH", boolVar(&c.RedisIAMAuth))
	parse("REDIS_SERVERLESS", boolVar(&c.RedisServerless))
	c.RedisTimeout, c.CacheTTL, c.PresignTTL, c.DownloadTTL = 50*time.Millisecond, 5*time.Minute, 15*time.Minute, 5*time.Minute
	parse("REDIS_TIMEOUT", durVar(&c.RedisTimeout))
	parse("CACHE_TTL", durVar(&c.CacheTTL))
	parse("PRESIGN_TTL", durVar(&c.PresignTTL))
	parse("DOWNLOAD_TTL", durVar(&c.DownloadTTL))
	parse("S3_FORCE_PATH_STYLE", boolVar(&c.S3PathStyle))
	c.MaxDocumentSize, c.InlineMaxBytes = api.DefaultMaxSize, api.DefaultInlineMax
	parse("MAX_DOCUMENT_SIZE", sizeVar(&c.MaxDocumentSize))
	parse("INLINE_MAX_BYTES", sizeVar(&c.InlineMaxBytes))
	if c.RedisURL != "" && c.RedisAddr != "" {
		errs = append(errs, errors.New("REDIS_URL and REDIS_ADDR: set one, not both"))
	}
	if c.RedisAddr != "" {
		if _, _, err := net.SplitHostPort(c.RedisAddr); err != nil {
			errs = append(errs, errors.New("REDIS_ADDR: want host:port"))
		}
	}
	errs = append(errs, c.redisIAMProblems()...)
	if c.DBIAMAuth && c.DBSecretARN != "" {
		errs = append(errs, errors.New("DB_IAM_AUTH and DB_SECRET_ARN: choose one way to authenticate"))
	}
	if c.DBIAMAuth && (c.DBHost == "" || c.DBUser == "" || c.DBName == "") {
		errs = append(errs, errors.New("DB_IAM_AUTH needs DB_HOST, DB_USER and DB_NAME"))
	}
	if c.DatabaseURL == "" && c.DBSecretARN == "" && c.DBHost == "" {
		errs = append(errs, errors.New("DATABASE_URL, DB_SECRET_ARN or DB_HOST: one is required"))
	}
	return c, errors.Join(errs...)
}

// redisIAMProblems checks the ElastiCache IAM authentication settings: IAM needs an ElastiCache endpoint
// reached over TLS, the user and the cache the token is signed for, and excludes a static password.
func (c config) redisIAMProblems() []error {
	if !c.RedisIAMAuth {
		if c.RedisCacheID != "" || c.RedisServerless {
			return []error{errors.New("REDIS_CACHE_ID and REDIS_SERVERLESS are only used with REDIS_IAM_AUTH=true")}
		}
		return nil
	}
	var errs []error
	if c.RedisAddr == "" || !c.RedisTLS {
		errs = append(errs, errors.New("REDIS_IAM_AUTH needs REDIS_ADDR with REDIS_TLS=true (ElastiCache accepts IAM tokens over TLS only)"))
	}
	if c.RedisUsername == "" || c.RedisCacheID == "" {
		errs = append(errs, errors.New("REDIS_IAM_AUTH needs REDIS_USERNAME and REDIS_CACHE_ID"))
	}
	if c.RedisAuthSecret != "" {
		errs = append(errs, errors.New("REDIS_IAM_AUTH and REDIS_AUTH_SECRET: choose one way to authenticate"))
	}
	return errs
}

// requireServe checks what serving needs beyond migrating.
func (c config) requireServe() error {
	if c.Bucket == "" {
		return errors.New("BUCKET is required")
	}
	return nil
}

// databaseURL returns the connection string: DATABASE_URL, or one built from DB_HOST, DB_PORT, DB_NAME,
// DB_USER and DB_SSLMODE with host, port and name taken from the secret when those are unset.
func (c config) databaseURL(secretHost string, secretPort int, secretDB string) string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	host, port, name := or(c.DBHost, secretHost), c.DBPort, or(c.DBName, secretDB)
	if c.DBHost == "" && secretPort != 0 {
		port = secretPort
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/" + name}
	if c.DBUser != "" {
		u.User = url.User(c.DBUser)
	}
	u.RawQuery = url.Values{"sslmode": {c.DBSSLMode}}.Encode()
	return u.String()
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/fakeaws"
)

func envFunc(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string // substring of the error; "" means valid
	}{
		{"local", map[string]string{"DATABASE_URL": "postgres://localhost/docs"}, ""},
		{"secret", map[string]string{"DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:db"}, ""},
		{"iam", map[string]string{"DB_IAM_AUTH": "true", "DB_HOST": "proxy", "DB_USER": "app", "DB_NAME": "docs"}, ""},
		{"no database", map[string]string{}, "DATABASE_URL, DB_SECRET_ARN or DB_HOST"},
		{"iam without user", map[string]string{"DB_IAM_AUTH": "true", "DB_HOST": "proxy"}, "DB_IAM_AUTH needs"},
		{"iam and secret", map[string]string{"DB_IAM_AUTH": "1", "DB_HOST": "h", "DB_USER": "u", "DB_NAME": "n", "DB_SECRET_ARN": "s"}, "choose one"},
		{"both redis", map[string]string{"DATABASE_URL": "x", "REDIS_URL": "redis://h:1", "REDIS_ADDR": "h:1"}, "set one"},
		{"bad redis addr", map[string]string{"DATABASE_URL": "x", "REDIS_ADDR": "h"}, "REDIS_ADDR"},
		{"bad duration", map[string]string{"DATABASE_URL": "x", "REDIS_TIMEOUT": "fast"}, "REDIS_TIMEOUT"},
		{"bad pool", map[string]string{"DATABASE_URL": "x", "DB_MAX_CONNS": "0"}, "DB_MAX_CONNS"},
		{"bad level", map[string]string{"DATABASE_URL": "x", "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"redis iam", map[string]string{"DATABASE_URL": "x", "REDIS_ADDR": "master.docs.cache.amazonaws.com:6379", "REDIS_TLS": "true",
			"REDIS_IAM_AUTH": "true", "REDIS_USERNAME": "docs-app", "REDIS_CACHE_ID": "docs"}, ""},
		{"redis iam without tls", map[string]string{"DATABASE_URL": "x", "REDIS_ADDR": "h:6379",
			"REDIS_IAM_AUTH": "true", "REDIS_USERNAME": "docs-app", "REDIS_CACHE_ID": "docs"}, "REDIS_TLS=true"},
		{"redis iam over a url", map[string]string{"DATABASE_URL": "x", "REDIS_URL": "rediss://h:6379",
			"REDIS_IAM_AUTH": "true", "REDIS_USERNAME": "docs-app", "REDIS_CACHE_ID": "docs"}, "needs REDIS_ADDR"},
		{"redis iam without cache id", map[string]string{"DATABASE_URL": "x", "REDIS_ADDR": "h:6379", "REDIS_TLS": "true",
			"REDIS_IAM_AUTH": "true", "REDIS_USERNAME": "docs-app"}, "REDIS_CACHE_ID"},
		{"redis iam and secret", map[string]string{"DATABASE_URL": "x", "REDIS_ADDR": "h:6379", "REDIS_TLS": "true",
			"REDIS_IAM_AUTH": "true", "REDIS_USERNAME": "u", "REDIS_CACHE_ID": "c", "REDIS_AUTH_SECRET": "s"}, "choose one"},
		{"cache id without iam", map[string]string{"DATABASE_URL": "x", "REDIS_ADDR": "h:6379", "REDIS_CACHE_ID": "c"}, "only used with REDIS_IAM_AUTH"},
		{"bad redis iam flag", map[string]string{"DATABASE_URL": "x", "REDIS_IAM_AUTH": "yes please"}, "REDIS_IAM_AUTH"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(envFunc(tc.env))
			if tc.want == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDatabaseURL(t *testing.T) {
	c, err := loadConfig(envFunc(map[string]string{"DB_IAM_AUTH": "true", "DB_HOST": "proxy.internal", "DB_PORT": "6432", "DB_USER": "app", "DB_NAME": "docs"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.databaseURL("", 0, ""), "postgres://app@proxy.internal:6432/docs?sslmode=require"; got != want {
		t.Errorf("databaseURL = %s, want %s", got, want)
	}
	c, _ = loadConfig(envFunc(map[string]string{"DB_SECRET_ARN": "s"}))
	if got, want := c.databaseURL("db.internal", 5433, "docs"), "postgres://db.internal:5433/docs?sslmode=require"; got != want {
		t.Errorf("databaseURL from the secret = %s, want %s", got, want)
	}
}

// TestServeHTTPLocally runs the whole program without the Lambda runtime: it serves plain HTTP on
// LISTEN_ADDR and stops cleanly when its context ends.
func TestServeHTTPLocally(t *testing.T) {
	dbURL := testsvc.Postgres(t)
	redisURL, prefix := testsvc.Redis(t)
	s3 := fakeaws.NewS3(t, "docs")
	addr := "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t))
	env := envFunc(map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "CACHE_PREFIX": prefix, "BUCKET": "docs", "LISTEN_ADDR": addr,
		"S3_FORCE_PATH_STYLE": "true",
	})
	t.Setenv("AWS_ENDPOINT_URL_S3", s3.URL)
	t.Setenv("AWS_REGION", fakeaws.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", fakeaws.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", fakeaws.SecretKey)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"bootstrap", "migrate"}, env, &out, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() { done <- run(ctx, []string{"bootstrap"}, env, io.Discard, &logs) }()
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/healthz"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("the local server never answered: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Errorf("healthz = %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop after its context ended")
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"bootstrap", "destroy"}, {"bootstrap", "migrate", "extra"}} {
		if err := run(context.Background(), args, envFunc(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("run(%v) = %v, want the usage", args, err)
		}
	}
}

// TestMigrateWithSecret wires the database from a Secrets Manager secret alone: user, password, host,
// port and database name all come from the secret, fetched once.
func TestMigrateWithSecret(t *testing.T) {
	u, err := url.Parse(testsvc.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	sm := fakeaws.NewSecrets(t)
	sm.Put("docs-db", fmt.Sprintf(`{"engine":"postgres","username":"postgres","password":"unused-with-trust","host":%q,"port":%d,"dbname":%q}`,
		u.Hostname(), port, strings.TrimPrefix(u.Path, "/")))
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL)
	t.Setenv("AWS_REGION", fakeaws.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", fakeaws.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", fakeaws.SecretKey)
	env := envFunc(map[string]string{"DB_SECRET_ARN": "docs-db", "DB_SSLMODE": "disable"})
	for _, want := range []string{"migrations applied: [1]", "migrations applied: []"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"bootstrap", "migrate"}, env, &out, io.Discard); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("migrate printed %q, want %q", out.String(), want)
		}
	}
	if n := sm.Reads("docs-db"); n != 2 {
		t.Errorf("secret read %d times over two runs, want once per run", n)
	}
}

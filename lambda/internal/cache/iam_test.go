package cache

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/redis/go-redis/v9"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/cacheauth"
)

const iamUser = "docs-app"

// iamToken returns an ElastiCache IAM token source signing with its own access key, and the token it
// hands out now.
func iamToken(t testing.TB, keyID string) (*cacheauth.IAMToken, string) {
	t.Helper()
	tok, err := cacheauth.NewIAMToken(cacheauth.IAMConfig{
		CacheID: "docs-cache", User: iamUser, Region: "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider(keyID, "secret-"+keyID, "session-"+keyID),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, password, err := tok.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok, password
}

// setPassword makes the ACL user accept exactly password, as ElastiCache accepts exactly a valid token.
func setPassword(t testing.TB, admin *redis.Client, password string) {
	t.Helper()
	if err := admin.Do(context.Background(), "ACL", "SETUSER", iamUser, "reset", "on", ">"+password, "~*", "+@all").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
}

// TestIAMAuthentication runs the cache against a real Redis whose ACL user's password is the token the
// IAM token source signs: the client authenticates as that user with it, a client with another token is
// refused, and after the token changes, connections older than their maximum lifetime are replaced by
// ones authenticated with the new token.
func TestIAMAuthentication(t *testing.T) {
	url, _ := testsvc.RedisServer(t)
	admin := redis.NewClient(mustParse(t, url))
	defer admin.Close()
	ctx := context.Background()
	addr := mustParse(t, url).Addr

	first, firstToken := iamToken(t, "AKIDFIRST")
	setPassword(t, admin, firstToken)
	var current atomic.Pointer[cacheauth.IAMToken]
	current.Store(first)
	const lifetime = 200 * time.Millisecond
	c, err := New(Config{Addr: addr, Prefix: "iam:", Timeout: 2 * time.Second, ConnMaxLifetime: lifetime,
		Credentials: func(ctx context.Context) (string, string, error) { return current.Load().Credentials(ctx) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	id, value := sample()
	c.Set(ctx, id, value)
	if _, hit := c.Get(ctx, id); !hit {
		t.Fatal("miss after Set on a client authenticated with the IAM token")
	}
	if who, err := c.client.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || who != iamUser {
		t.Fatalf("ACL WHOAMI = %q, %v; want %q", who, err, iamUser)
	}
	firstConn, err := c.client.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}

	_, otherToken := iamToken(t, "AKIDOTHER")
	other, err := New(Config{Addr: addr, Timeout: 2 * time.Second, Credentials: func(context.Context) (string, string, error) {
		return iamUser, otherToken, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Ping(ctx); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("Ping with a token the server does not accept: err = %v, want WRONGPASS", err)
	}

	// The token changes (a new signature); the server accepts only the new one from now on.
	second, secondToken := iamToken(t, "AKIDSECOND")
	setPassword(t, admin, secondToken)
	current.Store(second)
	time.Sleep(2 * lifetime)
	if _, hit := c.Get(ctx, id); !hit {
		t.Fatal("miss after the token changed: the old connection was not replaced by one with the new token")
	}
	secondConn, err := c.client.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if secondConn == firstConn {
		t.Errorf("connection %d outlived its maximum lifetime of %v", firstConn, lifetime)
	}
}

func TestCredentialsSetConnectionLifetime(t *testing.T) {
	creds := func(context.Context) (string, string, error) { return "u", "p", nil }
	tests := []struct {
		name string
		cfg  Config
		want time.Duration
	}{
		{"static password: connections are not recycled", Config{Addr: "h:6379", Username: "u", Password: "p"}, 0},
		{"credentials: one hour by default", Config{Addr: "h:6379", Credentials: creds}, time.Hour},
		{"credentials: configured lifetime", Config{Addr: "h:6379", Credentials: creds, ConnMaxLifetime: 5 * time.Minute}, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.client.Options().ConnMaxLifetime; got != tt.want {
				t.Errorf("ConnMaxLifetime = %v, want %v", got, tt.want)
			}
		})
	}
}

package cache

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

// sample is a document id and a value the API could cache for it.
func sample() (id string, value []byte) {
	id = document.NewID()
	return id, []byte(`{"id":"` + id + `","name":"a.pdf","state":"ready"}` + "\n" + `{"object_key":"documents/` + id + `"}`)
}

func TestRoundTripAndInvalidate(t *testing.T) {
	url, prefix := testsvc.Redis(t)
	c, err := New(Config{URL: url, Prefix: prefix, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	id, value := sample()
	if _, hit := c.Get(ctx, id); hit {
		t.Fatal("hit on an empty cache")
	}
	c.Set(ctx, id, value)
	got, hit := c.Get(ctx, id)
	if !hit {
		t.Fatal("miss after Set")
	}
	if diff := cmp.Diff(string(value), string(got)); diff != "" {
		t.Errorf("cached value (-want +got):\n%s", diff)
	}
	raw := redis.NewClient(mustParse(t, url))
	defer raw.Close()
	if ttl := raw.TTL(ctx, prefix+"doc:"+id).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("entry TTL = %v, want within (0, 1m]", ttl)
	}
	if err := c.Invalidate(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, hit := c.Get(ctx, id); hit {
		t.Error("hit after Invalidate")
	}
	// A reader that read the old version before the write fills the cache after the invalidation.
	c.Set(ctx, id, value)
	if _, hit := c.Get(ctx, id); hit {
		t.Error("a fill racing a write put the old version back")
	}
	raw.Del(ctx, prefix+"doc:"+id) // the tombstone has expired
	c.Set(ctx, id, value)
	if got, hit := c.Get(ctx, id); !hit || string(got) != string(value) {
		t.Errorf("after the tombstone expired and the cache was filled: hit %v, value %q", hit, got)
	}
	// A fill never replaces an entry (SET NX), and values that cannot be told from a miss are not stored.
	c.Set(ctx, id, []byte("other"))
	if got, _ := c.Get(ctx, id); string(got) != string(value) {
		t.Errorf("a second fill replaced the entry: %q", got)
	}
	for _, v := range []string{"", tombstone} {
		other := document.NewID()
		c.Set(ctx, other, []byte(v))
		if n := raw.Exists(ctx, prefix+"doc:"+other).Val(); n != 0 {
			t.Errorf("Set stored the value %q", v)
		}
	}
}

func mustParse(t testing.TB, url string) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// cachedSample returns a cache on the Redis at url (100ms timeout, an hour's cool-down) holding a sample
// document, whose id it returns, read once (so an idle connection is open).
func cachedSample(t *testing.T, url string) (*Cache, string) {
	t.Helper()
	c, err := New(Config{URL: url, Timeout: 100 * time.Millisecond, Cooldown: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	id, value := sample()
	c.Set(context.Background(), id, value)
	if _, hit := c.Get(context.Background(), id); !hit {
		t.Fatal("miss while Redis answers")
	}
	return c, id
}

func TestDeadRedisIsAMissAndIsSkippedDuringTheCooldown(t *testing.T) {
	url, stop := testsvc.RedisServer(t)
	c, id := cachedSample(t, url)
	ctx := context.Background()
	stop()
	if _, hit := c.Get(ctx, id); hit {
		t.Fatal("hit with Redis stopped")
	}
	if !c.skipping() {
		t.Error("a failure did not start the cool-down")
	}
	if err := c.Ping(ctx); err == nil {
		t.Error("Ping succeeded with Redis stopped")
	}
	if err := c.Invalidate(ctx, id); err == nil {
		t.Error("Invalidate reported success with Redis stopped")
	}
}

// TestHungRedisIsAMiss checks that a Get on an idle connection to a Redis that stops answering (its
// clients paused) gives up: a miss, and the cool-down starts.
func TestHungRedisIsAMiss(t *testing.T) {
	url, _ := testsvc.RedisServer(t)
	c, id := cachedSample(t, url)
	ctx := context.Background()
	admin := redis.NewClient(mustParse(t, url))
	defer admin.Close()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "3000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	defer admin.Do(ctx, "CLIENT", "UNPAUSE")
	if _, hit := c.Get(ctx, id); hit {
		t.Fatal("hit from a paused Redis")
	}
	if !c.skipping() {
		t.Error("a timed-out Get did not start the cool-down")
	}
}

func TestConfigErrorsDoNotEchoSecrets(t *testing.T) {
	cases := []Config{
		{},
		{URL: "redis://user:hunter2@host:port:bad/0"},
		{Addr: "no-port"},
	}
	for _, cfg := range cases {
		_, err := New(cfg)
		if err == nil {
			t.Errorf("New(%+v) accepted a bad config", cfg)
			continue
		}
		if s := err.Error(); strings.Contains(s, "hunter2") {
			t.Errorf("error %q leaks the password", s)
		}
	}
}

func TestTLSAddrConfig(t *testing.T) {
	c, err := New(Config{Addr: "master.example.cache.amazonaws.com:6379", TLS: true, Username: "app", Password: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.client.Options()
	if o.TLSConfig == nil || o.TLSConfig.ServerName != "master.example.cache.amazonaws.com" || o.Username != "app" || o.Password != "tok" {
		t.Errorf("options: TLS %v, user %q", o.TLSConfig, o.Username)
	}
	if !o.DisableIdentity || o.MaintNotificationsConfig == nil || o.MaintNotificationsConfig.Mode != "disabled" || o.MaxRetries != 0 || o.DialerRetries != 1 { // go-redis stores "no retries" (-1) as 0
		t.Errorf("client identity / maintenance notifications / retries not off: %+v", o)
	}
}

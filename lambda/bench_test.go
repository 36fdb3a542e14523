package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/api"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/blob"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/cache"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/fakeaws"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/gateway"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/store"
)

// benchEnv is the function wired as run wires it (logging to io.Discard), one stored document, and the
// raw clients the references use.
type benchEnv struct {
	handler  invoker
	event    []byte
	id, key  string
	rawRedis *redis.Client
	rawPool  *pgxpool.Pool
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	ctx := context.Background()
	dbURL := testsvc.Postgres(b)
	redisURL, prefix := testsvc.Redis(b)
	log := zerolog.New(io.Discard)
	st, err := store.Open(ctx, store.Config{URL: dbURL, Logger: &log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	c, err := cache.New(cache.Config{URL: redisURL, Prefix: prefix, Timeout: time.Second, Logger: &log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	s3 := fakeaws.NewS3(b, "docs")
	srv := api.NewServer(&log, st, c, blob.New(s3.Client, blob.Config{Bucket: "docs"}), api.Config{})
	id := document.NewID()
	if _, err := st.Create(ctx, document.Document{ID: id, Name: "bench.pdf", ContentType: "application/pdf", Size: 1234,
		Metadata: map[string]string{"team": "docs"}, State: document.StateReady, ObjectKey: "documents/" + id}); err != nil {
		b.Fatal(err)
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	rawRedis := redis.NewClient(opt)
	b.Cleanup(func() { rawRedis.Close() })
	rawPool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rawPool.Close)
	return &benchEnv{
		handler: invoker{adapter: gateway.New(srv), store: st},
		event:   bytes.ReplaceAll(fixture(b, "rest-get.json"), []byte("__ID__"), []byte(id)),
		id:      id, key: prefix + "doc:" + id, rawRedis: rawRedis, rawPool: rawPool,
	}
}

// get invokes the function with the GET event and checks the answer is a 200.
func (e *benchEnv) get() error {
	out, err := e.handler.Invoke(context.Background(), e.event)
	if err != nil {
		return err
	}
	var resp struct {
		StatusCode int `json:"statusCode"`
	}
	if json.Unmarshal(out, &resp) != nil || resp.StatusCode != 200 {
		return fmt.Errorf("GET answered %s", out)
	}
	return nil
}

// interleaved runs the measured operation and its reference alternately, each iteration timing both,
// so that load on a shared machine weighs on both alike. It reports both means and their ratio.
func interleaved(b *testing.B, unit string, setup func(), op, ref func() error) {
	b.Helper()
	var opT, refT time.Duration
	for b.Loop() {
		if setup != nil {
			setup()
		}
		t0 := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := ref(); err != nil {
			b.Fatal(err)
		}
		opT, refT = opT+t1.Sub(t0), refT+time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(opT.Nanoseconds())/n, "api-ns/op")
	b.ReportMetric(float64(refT.Nanoseconds())/n, "ref-ns/op")
	b.ReportMetric(float64(opT)/float64(refT), unit)
}

// BenchmarkGetDocument measures GET /v1/documents/{id} as an API Gateway REST event in-process (event
// decoding, routing, logging, response encoding included) against the raw client call it wraps,
// interleaved in the same loop: a cache hit against a go-redis GET of the same key, a cache miss (Redis
// miss, Postgres read, Redis fill) against a pgx primary-key query.
func BenchmarkGetDocument(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	b.Run("cache_hit", func(b *testing.B) {
		if err := e.get(); err != nil { // fills the cache
			b.Fatal(err)
		}
		interleaved(b, "x-vs-raw-redis-get", nil, e.get, func() error { return e.rawRedis.Get(ctx, e.key).Err() })
	})
	b.Run("cache_miss", func(b *testing.B) {
		evict := func() { // a plain eviction, not an invalidation: the fill must succeed
			if err := e.rawRedis.Del(ctx, e.key).Err(); err != nil {
				b.Fatal(err)
			}
		}
		interleaved(b, "x-vs-raw-pgx-query", evict, e.get, func() error {
			return e.rawPool.QueryRow(ctx, `SELECT id::text, name, content_type, size, metadata, state, object_key, coalesce(upload_id, ''), coalesce(etag, ''), created_at, updated_at FROM documents WHERE id = $1`, e.id).
				Scan(new(string), new(string), new(string), new(int64), new([]byte), new(string), new(string), new(string), new(string), new(time.Time), new(time.Time))
		})
	})
}

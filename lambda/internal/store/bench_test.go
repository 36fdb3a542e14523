package store

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// BenchmarkGetQueryModes measures Get in each pgx query mode that uses no named prepared statement (so
// RDS Proxy never pins a session) against the same primary-key query through a pool with pgx's default
// settings (named prepared statements, cached), interleaved in one loop. The ratio is what the
// no-pinning property costs a read: the server parses and plans an unnamed statement every time.
func BenchmarkGetQueryModes(b *testing.B) {
	ctx := context.Background()
	dbURL := testsvc.Postgres(b)
	seed, err := Open(ctx, Config{URL: dbURL})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(seed.Close)
	if _, err := seed.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	d, err := seed.Create(ctx, newDoc("bench.txt"))
	if err != nil {
		b.Fatal(err)
	}
	ref, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ref.Close)
	for _, mode := range []string{"cache_describe", "exec", "simple_protocol"} {
		u, err := url.Parse(dbURL)
		if err != nil {
			b.Fatal(err)
		}
		q := u.Query()
		q.Set("default_query_exec_mode", mode)
		u.RawQuery = q.Encode()
		s, err := Open(ctx, Config{URL: u.String()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		b.Run(mode, func(b *testing.B) {
			var opT, refT time.Duration
			for b.Loop() {
				t0 := time.Now()
				got, err := s.Get(ctx, d.ID)
				if err != nil || got.ID != d.ID {
					b.Fatalf("Get = %+v, %v", got, err)
				}
				t1 := time.Now()
				var id string
				err = ref.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE id = $1`, d.ID).Scan(&id, new(string), new(string),
					new(int64), new([]byte), new(string), new(string), new(string), new(string), new(time.Time), new(time.Time))
				if err != nil || id != d.ID {
					b.Fatalf("reference query: %q, %v", id, err)
				}
				opT, refT = opT+t1.Sub(t0), refT+time.Since(t1)
			}
			b.ReportMetric(float64(opT.Nanoseconds())/float64(b.N), "get-ns/op")
			b.ReportMetric(float64(refT.Nanoseconds())/float64(b.N), "ref-ns/op")
			b.ReportMetric(float64(opT)/float64(refT), "x-vs-prepared")
		})
	}
}

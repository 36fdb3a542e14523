package lock

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// BenchmarkLock measures an uncontended Lock and unlock against a reference measured in the same run: on
// PostgreSQL, the same pg_advisory_lock and pg_advisory_unlock round trips on one open connection (the
// Locker also takes a connection from its pool and back); locally, a sync.Mutex. Both alternate within each
// iteration; the figure that matters is the locker/raw ratio.
func BenchmarkLock(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		url := testsvc.Postgres(b)
		l := newPostgres(b, url)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		raw := func() {
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, "bench-raw"); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, "bench-raw"); err != nil {
				b.Fatal(err)
			}
		}
		compare(b, l, raw)
	})
	b.Run("local", func(b *testing.B) {
		var mu sync.Mutex
		compare(b, NewLocal(), func() { mu.Lock(); mu.Unlock() })
	})
}

func compare(b *testing.B, l *Locker, raw func()) {
	ctx := context.Background()
	var lockerTime, rawTime time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		unlock, err := l.Lock(ctx, "group/app|api|prod")
		if err != nil {
			b.Fatal(err)
		}
		unlock()
		lockerTime += time.Since(start)

		start = time.Now()
		raw()
		rawTime += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(lockerTime.Nanoseconds())/float64(b.N), "locker-ns/op")
	b.ReportMetric(float64(rawTime.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(lockerTime)/float64(rawTime), "locker/raw")
}

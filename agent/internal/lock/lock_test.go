package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// hangGuard bounds waits that must succeed: it is no performance threshold, only what turns a deadlock
// into a failure instead of a stuck test.
const hangGuard = time.Minute

// refusal is how long a test waits for a lock it must not get.
const refusal = 300 * time.Millisecond

func newPostgres(t testing.TB, url string) *Locker {
	t.Helper()
	l, err := NewPostgres(context.Background(), url)
	if err != nil {
		t.Fatalf("NewPostgres: %v", err)
	}
	t.Cleanup(l.Close)
	return l
}

// pair returns two Lockers that must exclude each other: two "replicas" on one PostgreSQL, or the one
// in-process Locker shared by two callers.
func pair(t testing.TB, mode string) (*Locker, *Locker) {
	t.Helper()
	if mode == "local" {
		l := NewLocal()
		return l, l
	}
	url := testsvc.Postgres(t)
	return newPostgres(t, url), newPostgres(t, url)
}

var modes = []string{"local", "postgres"}

func mustLock(t testing.TB, l *Locker, key string) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	unlock, err := l.Lock(ctx, key)
	if err != nil {
		t.Fatalf("Lock(%q): %v", key, err)
	}
	return unlock
}

func mustHold(t testing.TB, l *Locker, key string) (context.Context, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard) // bounds the wait; held outlives this call
	t.Cleanup(cancel)
	held, unlock, err := l.Hold(ctx, key)
	if err != nil {
		t.Fatalf("Hold(%q): %v", key, err)
	}
	return held, unlock
}

// mustNotLock checks that key stays locked to l for a while.
func mustNotLock(t testing.TB, l *Locker, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), refusal)
	defer cancel()
	unlock, err := l.Lock(ctx, key)
	if err == nil {
		unlock()
		t.Fatalf("Lock(%q) succeeded while another holder has it", key)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock(%q) = %v, want a context.DeadlineExceeded error", key, err)
	}
}

func TestExclusion(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			a, b := pair(t, mode)
			cases := []struct {
				name        string
				key         func(locker, worker int) string
				wantOverlap bool
			}{
				{name: "one key", key: func(int, int) string { return "group/app|api|prod" }},
				// The control: without a common lock the detector does see holders overlap.
				{name: "a key per worker", key: func(l, w int) string { return fmt.Sprintf("k%d-%d", l, w) }, wantOverlap: true},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					const workers, rounds = 5, 12
					var holders, maxHolders, total atomic.Int32
					var wg sync.WaitGroup
					for li, l := range []*Locker{a, b} {
						for w := range workers {
							wg.Go(func() {
								for range rounds {
									var unlock func()
									if w%2 == 0 {
										unlock = mustLock(t, l, c.key(li, w))
									} else {
										_, unlock = mustHold(t, l, c.key(li, w))
									}
									n := holders.Add(1)
									for m := maxHolders.Load(); n > m && !maxHolders.CompareAndSwap(m, n); m = maxHolders.Load() {
									}
									time.Sleep(2 * time.Millisecond)
									holders.Add(-1)
									total.Add(1)
									unlock()
								}
							})
						}
					}
					wg.Wait()
					if got, want := total.Load(), int32(2*workers*rounds); got != want {
						t.Errorf("critical sections run = %d, want %d", got, want)
					}
					if overlapped := maxHolders.Load() > 1; overlapped != c.wantOverlap {
						t.Errorf("at most %d holders at once; want overlap %v", maxHolders.Load(), c.wantOverlap)
					}
				})
			}
		})
	}
}

func TestKeysAreIndependent(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			a, b := pair(t, mode)
			unlockA := mustLock(t, a, "p|api|dev")
			defer unlockA()
			mustNotLock(t, b, "p|api|dev")
			unlockB := mustLock(t, b, "p|api|prod") // another key: free
			unlockB()
		})
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			a, b := pair(t, mode)
			unlockA := mustLock(t, a, "k")

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				unlock, err := b.Lock(ctx, "k")
				if err == nil {
					unlock()
				}
				done <- err
			}()
			time.Sleep(100 * time.Millisecond) // let the waiter queue
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("cancelled Lock = %v, want a context.Canceled error", err)
				}
			case <-time.After(hangGuard):
				t.Fatal("Lock did not return after its context was cancelled")
			}
			if mode == "postgres" {
				waitNoAdvisoryWaiters(t, b)
				if n := b.pool.Stat().AcquiredConns(); n != 0 {
					t.Errorf("cancelled waiter left %d connections acquired", n)
				}
			}
			// The holder is unaffected, and once it releases, the lock is free: the cancelled waiter left
			// nothing behind.
			mustNotLock(t, b, "k")
			unlockA()
			mustLock(t, b, "k")()
			if mode == "local" && len(a.local.slots) != 0 {
				t.Errorf("local locker keeps %d keys after every lock was released", len(a.local.slots))
			}
		})
	}
}

// waitNoAdvisoryWaiters waits until the database has no backend waiting for an advisory lock.
func waitNoAdvisoryWaiters(t testing.TB, l *Locker) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		var waiting int
		err := l.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting)
		if err != nil {
			t.Fatalf("read pg_locks: %v", err)
		}
		if waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends still wait for an advisory lock after their waiter was cancelled", waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLostConnectionReleasesLock(t *testing.T) {
	url := testsvc.Postgres(t)
	a, b, c := newPostgres(t, url), newPostgres(t, url), newPostgres(t, url)
	unlockA := mustLock(t, a, "k")
	mustNotLock(t, b, "k")

	// The holder's session dies, as when its process is killed or its network goes.
	admin, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
	).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate the holder's session: killed %d, %v", killed, err)
	}

	unlockB := mustLock(t, b, "k")
	unlockA() // on a dead session: returns, and must not release b's lock
	mustNotLock(t, c, "k")
	unlockB()
	mustLock(t, c, "k")()
	if n := a.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("the dead holder's connection is still acquired (%d)", n)
	}
}

func TestUnlockTwiceReleasesOnce(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			a, b := pair(t, mode)
			unlockA := mustLock(t, a, "k")
			unlockA()
			unlockB := mustLock(t, b, "k")
			defer unlockB()
			unlockA() // a second call must not release b's hold
			mustNotLock(t, a, "k")
		})
	}
}

func TestBadKeys(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			a, _ := pair(t, mode)
			for _, key := range []string{"", strings.Repeat("k", MaxKeyLen+1), "bad\xffutf8", "nul\x00"} {
				if _, err := a.Lock(context.Background(), key); err == nil || !strings.Contains(err.Error(), "lock key must be") {
					t.Errorf("Lock(%q) = %v, want a key error", key, err)
				}
			}
			mustLock(t, a, strings.Repeat("k", MaxKeyLen))() // the longest key is fine
		})
	}
}

func TestNewPostgresBadURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	port := testsvc.FreePort(t)
	for _, url := range []string{"::not a url", fmt.Sprintf("postgres://nobody:secret-password@127.0.0.1:%d/db?connect_timeout=2", port)} {
		l, err := NewPostgres(ctx, url)
		if err == nil {
			l.Close()
			t.Errorf("NewPostgres(%q) succeeded", url)
			continue
		}
		if strings.Contains(err.Error(), "secret-password") {
			t.Errorf("error reveals the password: %v", err)
		}
	}
}

func TestHoldEndsOnRelease(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			a, b := pair(t, mode)
			a.checkEvery = 10 * time.Millisecond
			held, unlock := mustHold(t, a, "k")
			time.Sleep(50 * time.Millisecond) // a few session checks pass
			if err := held.Err(); err != nil {
				t.Fatalf("held ended while the lock is held: %v (cause %v)", err, context.Cause(held))
			}
			mustNotLock(t, b, "k")
			unlock()
			<-held.Done()
			if errors.Is(context.Cause(held), ErrLost) {
				t.Errorf("released lock reported lost: %v", context.Cause(held))
			}
			mustLock(t, b, "k")()
			unlock() // again: nothing happens
		})
	}
}

func TestHoldReportsLostSession(t *testing.T) {
	url := testsvc.Postgres(t)
	a, b := newPostgres(t, url), newPostgres(t, url)
	a.checkEvery = 20 * time.Millisecond
	held, unlock := mustHold(t, a, "k")
	defer unlock()

	admin, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
		AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held.Done():
	case <-time.After(hangGuard):
		t.Fatal("Hold did not notice that its session ended")
	}
	if cause := context.Cause(held); !errors.Is(cause, ErrLost) {
		t.Errorf("cause = %v, want ErrLost", cause)
	}
	mustLock(t, b, "k")() // someone else may now take it
}

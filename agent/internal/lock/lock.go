// Package lock gives exclusive locks per key, so that at most one state-changing Terraform run goes on
// per (project, stack, stage) at a time.
//
// With PostgreSQL the lock is a session-level advisory lock, shared by every process that uses the same
// database: agent replicas exclude each other. Each held lock keeps one connection of its own, taken from
// the Locker's pool, for as long as it is held; if the process dies, or that connection is lost, the
// session ends and PostgreSQL releases the lock. Waiters queue in PostgreSQL's lock queue, which grants
// them in the order they asked.
// Hold also watches a held lock's session, and ends the context of the work done under it when the lock is
// lost, so that the work stops before another process can start the same.
//
// Without PostgreSQL (the embedded SQLite mode, one agent process) the lock is an in-process mutex per key.
package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MaxKeyLen is the longest key Lock accepts, in bytes.
const MaxKeyLen = 1024

// keyNamespace prefixes every key before it is hashed, so that the agent's advisory locks do not meet
// those of other software on the same database (River's among them).
const keyNamespace = "gitops-agent/lock/"

// defaultMaxConns is the pool size when the database URL does not set pool_max_conns: every held lock and
// every waiter uses a connection.
const defaultMaxConns = 32

// releaseTimeout bounds how long releasing a lock may take before its connection is closed instead.
const releaseTimeout = 10 * time.Second

// Checks of a held lock's session (Hold).
const (
	defaultCheckInterval = 5 * time.Second
	checkTimeout         = 5 * time.Second
)

// ErrLost is the cause of a Hold context that ended because the lock's database session failed.
var ErrLost = errors.New("lock lost: its database session failed")

// errReleased is the cause of a Hold context that ended because its lock was released.
var errReleased = errors.New("lock released")

// Locker hands out exclusive locks per key. It is safe for concurrent use.
type Locker struct {
	pool       *pgxpool.Pool // nil in local mode
	local      *keyed        // nil in PostgreSQL mode
	checkEvery time.Duration // how often Hold checks a session; 0 means defaultCheckInterval
}

// NewPostgres returns a Locker on the PostgreSQL database at databaseURL. Its pool holds up to 32
// connections unless the URL sets pool_max_conns; when all are in use, Lock waits for one. Close it when done.
func NewPostgres(ctx context.Context, databaseURL string) (*Locker, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("lock database URL: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	// A waiter whose context ends asks the server to cancel its wait rather than only dropping the socket:
	// a backend left waiting would still take the lock once it is free.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open lock database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open lock database: %w", err)
	}
	return &Locker{pool: pool}, nil
}

// NewLocal returns a Locker that excludes within this process only, among the callers of this one Locker:
// two local Lockers do not exclude each other, so a process shares one.
func NewLocal() *Locker { return &Locker{local: newKeyed()} }

// Close closes the pool. Locks still held must be released first: Close waits for their connections.
func (l *Locker) Close() {
	if l.pool != nil {
		l.pool.Close()
	}
}

// Lock blocks until it holds the lock of key, or ctx ends (it then returns ctx's error, wrapped). The
// returned unlock releases the lock; calling it more than once does nothing. A key is 1 to MaxKeyLen bytes
// of UTF-8 without NUL.
func (l *Locker) Lock(ctx context.Context, key string) (unlock func(), err error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	if l.local != nil {
		return l.local.lock(ctx, key)
	}
	_, unlock, err = l.lockPostgres(ctx, key)
	return unlock, err
}

// Hold is Lock, and it also watches the lock: held ends when unlock is called, when ctx ends, or when the
// lock is lost because its database session failed a check (one every few seconds) — another process may
// then take it, and context.Cause(held) is an error wrapping ErrLost. Work done under the lock runs with
// held, so that it stops when exclusion is no longer guaranteed. When ctx ends, held ends too, but the lock
// stays held until unlock. An in-process lock is never lost.
func (l *Locker) Hold(ctx context.Context, key string) (held context.Context, unlock func(), err error) {
	if l.local != nil {
		release, err := l.Lock(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		held, cancel := context.WithCancelCause(ctx)
		var once sync.Once
		return held, func() { once.Do(func() { cancel(errReleased); release() }) }, nil
	}
	if err := validKey(key); err != nil {
		return nil, nil, err
	}
	conn, release, err := l.lockPostgres(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	held, cancel := context.WithCancelCause(ctx)
	stop, watching := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watching)
		tick := time.NewTicker(l.checkInterval())
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-held.Done():
				return
			case <-tick.C:
				cctx, ccancel := context.WithTimeout(context.Background(), checkTimeout)
				err := conn.Ping(cctx)
				ccancel()
				if err != nil {
					cancel(fmt.Errorf("lock %q: %w: %v", key, ErrLost, err))
					return
				}
			}
		}
	}()
	var once sync.Once
	return held, func() {
		once.Do(func() {
			close(stop)
			<-watching // the watcher no longer uses the connection
			cancel(errReleased)
			release()
		})
	}, nil
}

func (l *Locker) checkInterval() time.Duration {
	if l.checkEvery > 0 {
		return l.checkEvery
	}
	return defaultCheckInterval
}

// lockPostgres takes the advisory lock of key on a connection of its own and returns that connection
// (for Hold's checks) with the function that releases both.
func (l *Locker) lockPostgres(ctx context.Context, key string) (*pgxpool.Conn, func(), error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("lock %q: take a connection: %w", key, ctxErr(ctx, err))
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, keyNamespace+key); err != nil {
		// The lock may have been granted just as the wait was cancelled: ending the session settles it.
		discard(conn)
		return nil, nil, fmt.Errorf("lock %q: %w", key, ctxErr(ctx, err))
	}
	var once sync.Once
	return conn, func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			defer cancel()
			var released bool
			err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, keyNamespace+key).Scan(&released)
			if err != nil || !released {
				// The session is gone or in doubt; closing it releases whatever it still holds.
				discard(conn)
				return
			}
			conn.Release()
		})
	}, nil
}

func validKey(key string) error {
	if key == "" || len(key) > MaxKeyLen || !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
		return fmt.Errorf("lock key must be 1 to %d bytes of UTF-8 without NUL", MaxKeyLen)
	}
	return nil
}

// discard takes conn out of the pool and closes it, which ends its session and every lock it holds.
func discard(conn *pgxpool.Conn) {
	c := conn.Hijack()
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	_ = c.Close(ctx) // closing a broken connection fails, and the session is over all the same
}

// ctxErr returns ctx's error when ctx has ended, so that callers can test for context.Canceled and
// context.DeadlineExceeded whatever the driver made of the cancellation; else err.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// keyed is a set of mutexes by key whose waits can be cancelled. A key's entry lives while someone holds
// or waits for it.
type keyed struct {
	mu    sync.Mutex // guards slots
	slots map[string]*slot
}

type slot struct {
	held chan struct{} // a token in the channel means the lock is held
	refs int           // holders and waiters; guarded by keyed.mu
}

func newKeyed() *keyed { return &keyed{slots: map[string]*slot{}} }

func (k *keyed) lock(ctx context.Context, key string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock %q: %w", key, err)
	}
	k.mu.Lock()
	s := k.slots[key]
	if s == nil {
		s = &slot{held: make(chan struct{}, 1)}
		k.slots[key] = s
	}
	s.refs++
	k.mu.Unlock()

	select {
	case s.held <- struct{}{}:
	case <-ctx.Done():
		k.release(key, s)
		return nil, fmt.Errorf("lock %q: %w", key, ctx.Err())
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-s.held
			k.release(key, s)
		})
	}, nil
}

func (k *keyed) release(key string, s *slot) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s.refs--
	if s.refs == 0 {
		delete(k.slots, key)
	}
}

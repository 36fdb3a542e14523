// Package cache keeps recently read documents in Redis (cache-aside) so that reads spare the database.
// It stores each document's value as the caller encoded it (the API keeps the answer it serves, so a hit
// is sent without being decoded and encoded again). Redis is only a cache: every failure is reported as a miss or a logged error, each call is bounded by a
// short timeout, and after a failure Redis is left alone for a cool-down so a dead or slow cache costs at
// most one timeout per cool-down instead of one per request.
package cache

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rs/zerolog"
)

// Config says how to reach Redis and how to use it.
type Config struct {
	// URL is redis://[user:password@]host:port/db or rediss://… for TLS. Either URL or Addr is required.
	URL string
	// Addr is host:port, used when URL is empty (ElastiCache endpoints), with TLS, Username and Password.
	Addr     string
	TLS      bool
	Username string
	Password string
	// Credentials, when set, supplies the user and password of every new connection instead of
	// Username and Password (ElastiCache IAM authentication: a token valid 15 minutes). Connections
	// then live at most ConnMaxLifetime, so none outlives the 12 hours ElastiCache allows an
	// IAM-authenticated connection.
	Credentials func(ctx context.Context) (username, password string, err error)
	// ConnMaxLifetime bounds the age of a connection when Credentials is set; 0 means 1 hour.
	ConnMaxLifetime time.Duration
	// Prefix is put in front of every key.
	Prefix string
	// TTL bounds how long an entry can outlive a write whose invalidation failed; 0 means 5 minutes.
	TTL time.Duration
	// Timeout bounds every Redis call (dial, read, write); 0 means 50ms. A Get on an idle connection
	// is bounded by it in each of its two steps (write, read) rather than as a whole.
	Timeout time.Duration
	// Cooldown is how long Redis is skipped after a failure; 0 means 1s.
	Cooldown time.Duration
	// Tombstone is how long an invalidated key refuses fills; 0 means 5s. It must outlast the time
	// between a concurrent reader's database read and its cache fill.
	Tombstone time.Duration
	Logger    *zerolog.Logger
}

// Cache is a Redis-backed document cache. It is safe for concurrent use.
type Cache struct {
	client    *redis.Client
	prefix    string
	ttl       time.Duration
	timeout   time.Duration
	cooldown  time.Duration
	tombstone time.Duration
	log       *zerolog.Logger
	// skipUntil is the UnixNano time before which Redis is not called, set after a failure.
	skipUntil atomic.Int64
}

// New builds the client without connecting. Client identity (CLIENT SETINFO) and maintenance
// notifications are off: ElastiCache and older servers reject them and they cost round trips on connect.
func New(cfg Config) (*Cache, error) {
	var opt *redis.Options
	switch {
	case cfg.URL != "":
		o, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, errors.New("parse Redis URL: invalid URL") // the URL may hold a password
		}
		opt = o
	case cfg.Addr != "":
		if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
			return nil, fmt.Errorf("Redis address %q: want host:port", cfg.Addr)
		}
		opt = &redis.Options{Addr: cfg.Addr}
		if cfg.TLS {
			host, _, _ := net.SplitHostPort(cfg.Addr)
			opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
	default:
		return nil, errors.New("cache: a Redis URL or address is required")
	}
	if cfg.Username != "" {
		opt.Username = cfg.Username
	}
	if cfg.Password != "" {
		opt.Password = cfg.Password
	}
	if cfg.Credentials != nil {
		opt.CredentialsProviderContext = cfg.Credentials
		opt.ConnMaxLifetime = cfg.ConnMaxLifetime
		if opt.ConnMaxLifetime <= 0 {
			opt.ConnMaxLifetime = time.Hour
		}
		opt.ConnMaxLifetimeJitter = opt.ConnMaxLifetime / 10
	}
	c := &Cache{prefix: cfg.Prefix, ttl: cfg.TTL, timeout: cfg.Timeout, cooldown: cfg.Cooldown, tombstone: cfg.Tombstone, log: cfg.Logger}
	if c.tombstone <= 0 {
		c.tombstone = 5 * time.Second
	}
	if c.ttl <= 0 {
		c.ttl = 5 * time.Minute
	}
	if c.timeout <= 0 {
		c.timeout = 50 * time.Millisecond
	}
	if c.cooldown <= 0 {
		c.cooldown = time.Second
	}
	if c.log == nil {
		nop := zerolog.Nop()
		c.log = &nop
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = c.timeout, c.timeout, c.timeout, c.timeout
	opt.MaxRetries = -1   // no retries: a miss is cheaper than a second timeout
	opt.DialerRetries = 1 // likewise for dials (the per-call timeout bounds them anyway)
	opt.PoolSize = 4
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	c.client = redis.NewClient(opt)
	return c, nil
}

// Close closes the client's connections.
func (c *Cache) Close() error { return c.client.Close() }

// Ping checks Redis directly, ignoring the cool-down, within the cache's timeout.
func (c *Cache) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.client.Ping(ctx).Err()
}

func (c *Cache) key(id string) string { return c.prefix + "doc:" + id }

// Get returns the value cached for id and true on a hit. A miss, a tombstone, a skipped call during the
// cool-down and an error all return false. The value is returned as Redis sent it: the caller owns its
// format and checks it.
func (c *Cache) Get(ctx context.Context, id string) ([]byte, bool) {
	if c.skipping() {
		return nil, false
	}
	if c.client.PoolStats().IdleConns == 0 {
		// A connection may have to be dialed and set up first: the whole call gets the timeout. With
		// an idle connection, the GET's own write and read are each bounded by it (the client's
		// WriteTimeout and ReadTimeout), without the cost of a context timer on every hit.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	b, err := c.client.Get(ctx, c.key(id)).Bytes()
	if errors.Is(err, redis.Nil) || string(b) == tombstone {
		return nil, false
	}
	if err != nil {
		c.failed("get", err)
		return nil, false
	}
	return b, true
}

// tombstone is the value Invalidate leaves behind; Get treats it as a miss and Set cannot replace it.
const tombstone = "-"

// Set stores value for id for the TTL unless the key holds an entry or a tombstone already (SET NX): a
// reader that read the database before a concurrent write cannot put the old version back after the
// write's invalidation. An empty value or the tombstone itself is not stored. Failures are logged, never
// returned: the database stays the source of truth.
func (c *Cache) Set(ctx context.Context, id string, value []byte) {
	if c.skipping() || len(value) == 0 || string(value) == tombstone {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.client.SetNX(ctx, c.key(id), value, c.ttl).Err(); err != nil {
		c.failed("set", err)
	}
}

// Invalidate replaces the entry for id with a short-lived tombstone, so that for a few seconds reads go
// to the database and fills are refused. It is attempted even during the cool-down, because a missed
// invalidation serves a stale document until the TTL ends; its error is returned for logging.
func (c *Cache) Invalidate(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.client.Set(ctx, c.key(id), tombstone, c.tombstone).Err(); err != nil {
		c.failed("invalidate", err)
		return fmt.Errorf("cache invalidate: %w", err)
	}
	return nil
}

func (c *Cache) skipping() bool { return time.Now().UnixNano() < c.skipUntil.Load() }

func (c *Cache) failed(op string, err error) {
	c.skipUntil.Store(time.Now().Add(c.cooldown).UnixNano())
	c.log.Warn().Str("op", op).Err(err).Dur("cooldown", c.cooldown).Msg("cache: Redis call failed; serving from the database")
}

// RouteClientLogs sends go-redis's own log lines (connection pool events, which it otherwise prints to
// the standard logger) to log at debug level, so every line the function writes is JSON. go-redis keeps
// this setting process-wide.
func RouteClientLogs(log *zerolog.Logger) { redis.SetLogger(clientLog{log}) }

type clientLog struct{ log *zerolog.Logger }

func (l clientLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug().Str("component", "go-redis").Msgf(format, v...)
}

package store

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/dbauth"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/fakeaws"
)

// passwordPostgres starts a PostgreSQL cluster of the test's own that checks passwords
// (scram-sha-256 on TCP), unlike the trust-mode cluster tests share. It returns the superuser's URL
// (password "super") and the port.
func passwordPostgres(t testing.TB) (string, int) {
	t.Helper()
	c := testsvc.PostgresClusterWithPassword(t, "super")
	return c.URL(), c.Port()
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRotatedPasswordIsFetchedAgainOnce(t *testing.T) {
	ctx := context.Background()
	superURL, port := passwordPostgres(t)
	admin, err := pgx.Connect(ctx, superURL)
	if err != nil {
		t.Fatalf("connect as superuser: %v", err)
	}
	defer admin.Close(ctx)
	for _, q := range []string{`CREATE ROLE app LOGIN PASSWORD 'first-pw'`, `CREATE DATABASE docs OWNER app`} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	secretJSON := func(pw string) string {
		return fmt.Sprintf(`{"engine":"postgres","username":"app","password":%q,"host":"127.0.0.1","port":%d,"dbname":"docs"}`, pw, port)
	}
	sm := fakeaws.NewSecrets(t)
	sm.Put("db", secretJSON("first-pw"))
	src, err := dbauth.NewSecretSource(ctx, sm.Client(), "db")
	if err != nil {
		t.Fatalf("secret source: %v", err)
	}
	var logs syncBuffer
	log := zerolog.New(&logs)
	s, err := Open(ctx, Config{URL: fmt.Sprintf("postgres://127.0.0.1:%d/docs?sslmode=disable", port), Credentials: src, Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate as app: %v", err)
	}
	d, err := s.Create(ctx, newDoc("before rotation"))
	if err != nil {
		t.Fatal(err)
	}

	// Rotation: the password changes in the database and in the secret; open connections survive, so
	// drop them to make the next query log in again with the stale password.
	if _, err := admin.Exec(ctx, `ALTER ROLE app PASSWORD 'second-pw'`); err != nil {
		t.Fatal(err)
	}
	sm.Put("db", secretJSON("second-pw"))
	s.pool.Reset()

	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = s.Get(ctx, d.ID) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("get %d after rotation: %v", i, err)
		}
	}
	if got := sm.Reads("db"); got != 2 {
		t.Errorf("secret read %d times, want 2 (init, then once after the rejection)", got)
	}
	if !strings.Contains(logs.String(), "database rejected the credentials") {
		t.Errorf("no rejection was logged; the test did not exercise a failed login:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "second-pw") || strings.Contains(logs.String(), "first-pw") {
		t.Errorf("logs contain a password:\n%s", logs.String())
	}
}

func TestWrongPasswordFailsWithoutLeakingIt(t *testing.T) {
	ctx := context.Background()
	superURL, port := passwordPostgres(t)
	admin, err := pgx.Connect(ctx, superURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE ROLE app LOGIN PASSWORD 'real-pw'`); err != nil {
		t.Fatal(err)
	}
	sm := fakeaws.NewSecrets(t)
	sm.Put("db", `{"username":"app","password":"stale-pw"}`)
	src, err := dbauth.NewSecretSource(ctx, sm.Client(), "db")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Config{URL: fmt.Sprintf("postgres://127.0.0.1:%d/postgres?sslmode=disable", port), Credentials: src})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Ping(ctx)
	if err == nil {
		t.Fatal("ping succeeded with a wrong password")
	}
	if !isAuthFailure(err) || strings.Contains(err.Error(), "stale-pw") {
		t.Errorf("error = %v; want an authentication failure that does not quote the password", err)
	}
	// The source refetches at most once per few seconds however many logins fail.
	for range 3 {
		_ = s.Ping(ctx)
	}
	if got := sm.Reads("db"); got != 2 {
		t.Errorf("secret read %d times, want 2 (init, then one refresh for all the rejections)", got)
	}
}

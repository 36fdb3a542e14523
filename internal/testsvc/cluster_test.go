package testsvc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresClusterStopsAndStartsWithItsData checks that a cluster refuses connections while stopped and
// comes back on the same port with the data it had.
func TestPostgresClusterStopsAndStartsWithItsData(t *testing.T) {
	t.Parallel()
	c := PostgresCluster(t)
	db := c.NewDatabase()
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("the stopped cluster answered a query")
	}
	c.Stop() // stopping twice does nothing
	c.Start()
	if err := exec("DO $$ BEGIN IF (SELECT v FROM kept) <> 42 THEN RAISE 'lost'; END IF; END $$"); err != nil {
		t.Fatalf("after a restart on port %d: %v", c.Port(), err)
	}
}

// TestPostgresClusterWithPasswordChecksIt: its URLs carry the password and connect; the same URL with
// another password is refused.
func TestPostgresClusterWithPasswordChecksIt(t *testing.T) {
	t.Parallel()
	c := PostgresClusterWithPassword(t, "s3cret")
	connect := func(url string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		return conn.Close(context.Background())
	}
	if err := connect(c.NewDatabase()); err != nil {
		t.Fatalf("with the password: %v", err)
	}
	wrong := strings.Replace(c.URL(), "s3cret", "wrong", 1)
	if err := connect(wrong); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("with another password: %v, want a password authentication failure", err)
	}
}

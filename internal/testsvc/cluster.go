package testsvc

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL cluster of one test's own, for tests that stop and start the database under a
// running agent (stopping the shared TEST_DATABASE_URL server would break every other package's tests).
// It keeps its port and its data across Stop and Start. A Cluster is safe for concurrent use.
type Cluster struct {
	t    testing.TB
	bin  string // the directory holding initdb, pg_ctl and postgres
	data string // the cluster's data directory
	port int
	cred *syscall.Credential // the unprivileged user the server runs as when the test runs as root; else nil
	// password is the superuser's, checked (scram-sha-256) on every connection; "" means trust.
	password string

	mu      sync.Mutex // guards running; serializes Start and Stop
	running bool
}

// PostgresCluster initializes a new cluster (trust authentication, superuser "postgres") in a temp dir,
// starts it on a free loopback port, and stops and removes it when the test ends. Without the PostgreSQL
// server binaries (/usr/lib/postgresql/*/bin, or `pg_config --bindir`) the test is Unavailable. As root,
// the server runs as the user postgres, else nobody: PostgreSQL refuses to run as root.
func PostgresCluster(t testing.TB) *Cluster {
	t.Helper()
	return newCluster(t, "")
}

// PostgresClusterWithPassword is PostgresCluster with password authentication (scram-sha-256): the
// superuser postgres has password, which URL and NewDatabase's URLs carry. For tests of how a client
// handles a password the server refuses or changes.
func PostgresClusterWithPassword(t testing.TB, password string) *Cluster {
	t.Helper()
	if password == "" {
		t.Fatal("postgres cluster: an empty password")
	}
	return newCluster(t, password)
}

func newCluster(t testing.TB, password string) *Cluster {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		Unavailable(t, "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or pg_config --bindir")
	}
	c := &Cluster{t: t, bin: bin, port: FreePort(t), password: password}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			Unavailable(t, "running as root and %v", err)
		}
		c.cred = cred
	}
	// Not t.TempDir: its parents are private to root, and the server runs as another user.
	dir, err := os.MkdirTemp("", "pgcluster-")
	if err != nil {
		t.Fatalf("postgres cluster: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	c.data = filepath.Join(dir, "data")
	if err := c.own(dir, c.data); err != nil {
		t.Fatalf("postgres cluster: %v", err)
	}
	initdb := []string{"-A", "trust", "-U", "postgres", "-E", "UTF8", "-D", c.data}
	if password != "" {
		pw := filepath.Join(dir, "pw")
		if err := os.WriteFile(pw, []byte(password+"\n"), 0o644); err != nil {
			t.Fatalf("postgres cluster: %v", err)
		}
		initdb[1] = "scram-sha-256"
		initdb = append(initdb, "--pwfile="+pw)
	}
	if out, err := c.run("initdb", initdb...); err != nil {
		Unavailable(t, "initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.running {
			_, _ = c.run("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop")
			c.running = false
		}
	})
	c.Start()
	return c
}

// URL is the cluster's maintenance database, postgres, as superuser postgres.
func (c *Cluster) URL() string { return c.urlOf("postgres") }

// Port is the loopback TCP port the cluster listens on, the same across Stop and Start.
func (c *Cluster) Port() int { return c.port }

// NewDatabase creates a database with a fresh name in the running cluster and returns its URL; it goes
// with the cluster at the end of the test.
func (c *Cluster) NewDatabase() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		c.t.Fatalf("connect to the test's cluster: %v", err)
	}
	defer conn.Close(context.Background())
	name := "t_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		c.t.Fatalf("create database in the test's cluster: %v", err)
	}
	return c.urlOf(name)
}

// Stop shuts the server down (pg_ctl stop -m fast: clients are disconnected, in-flight transactions roll
// back) and waits until it is gone. Stopping a stopped cluster does nothing.
func (c *Cluster) Stop() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return
	}
	if out, err := c.run("pg_ctl", "-D", c.data, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		c.t.Fatalf("stop the test's PostgreSQL cluster: %v\n%s", err, out)
	}
	c.running = false
}

// Start starts the server on its port with its data, and waits until it accepts connections. Starting a
// running cluster does nothing.
func (c *Cluster) Start() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.port, c.data)
	out, err := c.run("pg_ctl", "-D", c.data, "-l", filepath.Join(c.data, "server.log"), "-w", "-t", "60", "-o", opts, "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.data, "server.log"))
		c.t.Fatalf("start the test's PostgreSQL cluster on port %d: %v\n%s\n%s", c.port, err, out, log)
	}
	c.running = true
}

func (c *Cluster) urlOf(database string) string {
	who := url.User("postgres")
	if c.password != "" {
		who = url.UserPassword("postgres", c.password)
	}
	u := url.URL{Scheme: "postgres", User: who, Host: "127.0.0.1:" + strconv.Itoa(c.port), Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// run runs one of the cluster's binaries, as the unprivileged user when there is one, and returns its
// combined output.
func (c *Cluster) run(name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// own makes base traversable and data a directory of the server's user.
func (c *Cluster) own(base, data string) error {
	if err := os.Chmod(base, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	if c.cred != nil {
		return os.Chown(data, int(c.cred.Uid), int(c.cred.Gid))
	}
	return nil
}

// postgresBin finds the directory of the PostgreSQL server binaries, "" when there is none.
func postgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	for i := len(dirs) - 1; i >= 0; i-- { // the newest version first
		if isExecutable(filepath.Join(dirs[i], "initdb")) && isExecutable(filepath.Join(dirs[i], "pg_ctl")) {
			return dirs[i]
		}
	}
	return ""
}

// unprivileged returns the credentials of the user postgres, else nobody.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("neither user postgres nor nobody exists to run PostgreSQL as")
}

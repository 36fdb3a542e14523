package lock

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// The test binary doubles as a second agent process: started with helperEnv set, it runs one helper mode
// instead of the tests.
const (
	helperEnv    = "GITOPS_LOCK_TEST_HELPER" // hold | count
	helperURLEnv = "GITOPS_LOCK_TEST_URL"
	helperKeyEnv = "GITOPS_LOCK_TEST_KEY"
	helperNEnv   = "GITOPS_LOCK_TEST_ROUNDS"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper is the second process. "hold" takes the lock, prints "locked" and keeps it until its stdin
// closes. "count" runs the probe's critical section the given number of times under the lock.
func runHelper(mode string) error {
	ctx := context.Background()
	url, key := os.Getenv(helperURLEnv), os.Getenv(helperKeyEnv)
	l, err := NewPostgres(ctx, url)
	if err != nil {
		return err
	}
	defer l.Close()
	switch mode {
	case "hold":
		unlock, err := l.Lock(ctx, key)
		if err != nil {
			return err
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		unlock()
		return nil
	case "count":
		rounds, err := strconv.Atoi(os.Getenv(helperNEnv))
		if err != nil {
			return err
		}
		return countUnderLock(ctx, l, url, key, rounds)
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// createProbe makes the table the critical sections of every process count themselves in.
func createProbe(t testing.TB, url string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `CREATE TABLE lock_probe (holders int NOT NULL, max_holders int NOT NULL, total int NOT NULL);
		INSERT INTO lock_probe VALUES (0, 0, 0)`); err != nil {
		t.Fatal(err)
	}
}

// countUnderLock enters the critical section rounds times: it counts itself in the probe, stays a moment,
// and counts itself out. The probe remembers the most holders it saw at once.
func countUnderLock(ctx context.Context, l *Locker, url, key string, rounds int) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for range rounds {
		unlock, err := l.Lock(ctx, key)
		if err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, `UPDATE lock_probe SET holders = holders + 1, max_holders = greatest(max_holders, holders + 1)`); err != nil {
			unlock()
			return err
		}
		time.Sleep(3 * time.Millisecond)
		if _, err := conn.Exec(ctx, `UPDATE lock_probe SET holders = holders - 1, total = total + 1`); err != nil {
			unlock()
			return err
		}
		unlock()
	}
	return nil
}

func helperCmd(t testing.TB, mode, url, key string, extraEnv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperURLEnv+"="+url, helperKeyEnv+"="+key)
	cmd.Env = append(cmd.Env, extraEnv...)
	return cmd
}

func TestProcessesExcludeEachOther(t *testing.T) {
	url := testsvc.Postgres(t)
	createProbe(t, url)
	const rounds = 15
	const key = "group/app|platform|prod"
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := range 2 {
		cmd := helperCmd(t, "count", url, key, helperNEnv+"="+strconv.Itoa(rounds))
		wg.Go(func() {
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("helper process %d: %v: %s", i, err, out)
			}
		})
	}
	l := newPostgres(t, url)
	wg.Go(func() {
		if err := countUnderLock(context.Background(), l, url, key, rounds); err != nil {
			errs <- fmt.Errorf("this process: %w", err)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var holders, maxHolders, total int
	if err := conn.QueryRow(context.Background(), `SELECT holders, max_holders, total FROM lock_probe`).Scan(&holders, &maxHolders, &total); err != nil {
		t.Fatal(err)
	}
	if holders != 0 || maxHolders != 1 || total != 3*rounds {
		t.Errorf("probe: holders %d, most at once %d, total %d; want 0, 1, %d", holders, maxHolders, total, 3*rounds)
	}
}

func TestHolderProcessEnds(t *testing.T) {
	cases := []struct {
		name string
		end  func(cmd *exec.Cmd, stdin io.WriteCloser) error
	}{
		{"releases and exits", func(_ *exec.Cmd, stdin io.WriteCloser) error { return stdin.Close() }},
		{"is killed", func(cmd *exec.Cmd, _ io.WriteCloser) error { return cmd.Process.Kill() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := testsvc.Postgres(t)
			const key = "p|api|prod"
			cmd := helperCmd(t, "hold", url, key)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			locked := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(stdout).ReadString('\n')
				locked <- line
				_, _ = io.Copy(io.Discard, stdout)
				exited <- cmd.Wait()
				close(exited)
			}()
			select {
			case line := <-locked:
				if line != "locked\n" {
					t.Fatalf("helper said %q; stderr: %s", line, stderr.String())
				}
			case <-time.After(hangGuard):
				t.Fatal("helper process did not take the lock")
			}

			l := newPostgres(t, url)
			mustNotLock(t, l, key) // the other process holds it
			if err := c.end(cmd, stdin); err != nil {
				t.Fatal(err)
			}
			mustLock(t, l, key)()
		})
	}
}

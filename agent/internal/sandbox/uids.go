package sandbox

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// uidPool hands out the uids of runs. A uid is held by an exclusive flock on a file named after it in a
// lock dir that every agent on the machine shares, so that two agents (or two test processes) never
// give one uid to two runs: the sandbox kills a uid's processes by that uid. A lock dies with its
// process, so an agent that crashed frees its uids.
type uidPool struct {
	base, count int
	dir         string
}

// lockDir is the machine-wide dir of uid locks.
func lockDir() string { return filepath.Join(os.TempDir(), "gitops-agent-uids") }

func newUIDPool(base, count int) *uidPool {
	return &uidPool{base: base, count: count, dir: lockDir()}
}

type uidLease struct {
	id   int
	lock *os.File
}

// acquire takes a free uid, picked at random, and kills anything a crashed agent left running under it.
func (p *uidPool) acquire() (*uidLease, error) {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: uid locks: %w", err)
	}
	for range 64 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(p.count)))
		if err != nil {
			return nil, fmt.Errorf("sandbox: pick a uid: %w", err)
		}
		lease, err := p.take(p.base + int(n.Int64()))
		if err != nil {
			return nil, err
		}
		if lease == nil {
			continue
		}
		if err := killUID(lease.id); err != nil {
			return nil, errors.Join(err, lease.release())
		}
		return lease, nil
	}
	return nil, errors.New("sandbox: no free uid after 64 tries")
}

// take locks uid id; nil when another run holds it.
func (p *uidPool) take(id int) (*uidLease, error) {
	f, err := os.OpenFile(filepath.Join(p.dir, strconv.Itoa(id)), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sandbox: uid lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("sandbox: uid lock: %w", err)
	}
	return &uidLease{id: id, lock: f}, nil
}

// release frees the uid (closing the file drops the lock).
func (l *uidLease) release() error { return l.lock.Close() }

// sweep kills the processes of every uid of the pool that no run holds: what the runs of an agent that
// was killed left behind (in uid mode a process that left terraform's process tree outlives it).
func (p *uidPool) sweep() error {
	var errs []error
	for _, id := range p.usedUIDs() {
		lease, err := p.take(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if lease == nil {
			continue // a run holds it
		}
		errs = append(errs, killUID(id), lease.release())
	}
	return errors.Join(errs...)
}

// usedUIDs lists the uids of the pool that some process has.
func (p *uidPool) usedUIDs() []int {
	seen := map[int]bool{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		fi, err := os.Stat("/proc/" + e.Name())
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if id := int(st.Uid); id >= p.base && id < p.base+p.count {
				seen[id] = true
			}
		}
	}
	out := make([]int, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	return out
}

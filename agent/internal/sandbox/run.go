package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Run is one sealed run: a work dir, a uid and (namespaces mode) a network namespace, shared by the
// commands of one terraform workspace. Its methods are safe for concurrent use.
type Run struct {
	s    *Sandbox
	mode Mode
	work string // the work dir, absolute
	spec Spec
	dir  string // the run's own files: scripts, etc files, HOME and TMPDIR (uid mode)
	uid  *uidLease
	net  *netns
	// namespaces mode: the process holding the run's namespaces and view, and its host pid to enter.
	holder    *exec.Cmd
	holderPID int

	mu      sync.Mutex
	scripts int
	closed  bool
	user    string // the run's user name (runUser unless SetUser named it)
}

func (s *Sandbox) start(ctx context.Context, m Mode, spec Spec) (*Run, error) {
	abs, err := filepath.Abs(spec.Dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox: work dir: %w", err)
	}
	r := &Run{s: s, mode: m, work: abs, spec: spec, user: runUser}
	if m == Off {
		return r, nil
	}
	// What the runs of a killed agent left running (uid mode: a process that left terraform's process
	// tree) is killed before a new run starts: a step resumed on another agent of this machine never
	// runs beside what its interrupted run left.
	if err := s.uids.sweep(); err != nil {
		s.log.Warn().Err(err).Msg("could not clear what earlier runs left behind")
	}
	if m == Namespaces {
		n, err := s.network(ctx)
		if err != nil {
			return nil, err
		}
		r.uid, r.net = n.uid, n.net
	} else if r.uid, err = s.uids.acquire(); err != nil {
		return nil, err
	}
	fail := func(err error) (*Run, error) { return nil, errors.Join(err, r.Close()) }
	if r.dir, err = os.MkdirTemp(s.opts.RunsDir, "run-"); err != nil {
		return fail(fmt.Errorf("sandbox: run dir: %w", err))
	}
	if err := os.Chmod(r.dir, 0o711); err != nil {
		return fail(fmt.Errorf("sandbox: run dir: %w", err))
	}
	if err := handOver(abs, r.uid.id); err != nil {
		return fail(err)
	}
	switch m {
	case UID:
		err = r.prepareUID()
	case Namespaces:
		if err = r.writeEtc(); err == nil {
			err = r.startHolder(ctx)
		}
	}
	if err != nil {
		return fail(err)
	}
	return r, nil
}

// UID is the uid the run's processes have (the agent's own in off mode).
func (r *Run) UID() int {
	if r.uid == nil {
		return os.Geteuid()
	}
	return r.uid.id
}

// Command writes an executable that runs binary, with the arguments it is given, inside the run, and
// returns its path. It runs in the work dir or one below it (the caller's exec.Cmd.Dir), with the
// environment the caller gives it, but for HOME, TMPDIR, USER and LOGNAME, which are the run's own. In
// off mode it returns binary itself.
func (r *Run) Command(binary string) (string, error) {
	if r.mode == Off {
		return binary, nil
	}
	// The binary is bound into the run's view by its real path: /bin may be a link there too.
	bin, err := filepath.Abs(binary)
	if err == nil {
		bin, err = filepath.EvalSymlinks(bin)
	}
	if err != nil {
		return "", fmt.Errorf("sandbox: binary: %w", err)
	}
	r.mu.Lock()
	user := r.user
	r.mu.Unlock()
	var script string
	switch r.mode {
	case UID:
		script = r.uidScript(bin, user)
	case Namespaces:
		script = r.namespacesScript(bin, user)
	}
	r.mu.Lock()
	r.scripts++
	name := filepath.Join(r.dir, "cmd-"+strconv.Itoa(r.scripts))
	r.mu.Unlock()
	if err := writeExecutable(name, []byte(script)); err != nil {
		return "", fmt.Errorf("sandbox: write command: %w", err)
	}
	return name, nil
}

// writeExecutable writes a file of mode 0700 that this process starts next. Its descriptor is open
// only while syscall.ForkLock is held for reading: a child another goroutine forked meanwhile would
// hold it open for writing until that child execs, and starting the file would fail with "text file
// busy" (ETXTBSY, golang/go#22315).
func writeExecutable(name string, data []byte) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	return os.WriteFile(name, data, 0o700)
}

// Lend makes the tree at path the run's for a while (e.g. a plugin cache that init fills) and returns
// the function that takes it back: every entry the agent's again, and nothing in it writable but by the
// agent. Call Reap before giving back, so that no process of the run still writes there.
func (r *Run) Lend(path string) (giveBack func() error, err error) {
	if r.mode == Off {
		return func() error { return nil }, nil
	}
	if err := chownTree(path, r.uid.id, false); err != nil {
		return nil, fmt.Errorf("sandbox: lend %s: %w", path, err)
	}
	return func() error {
		if err := chownTree(path, os.Geteuid(), true); err != nil {
			return fmt.Errorf("sandbox: take back %s: %w", path, err)
		}
		return nil
	}, nil
}

// Interrupt sends SIGINT to every process of the run (terraform stops and releases its state lock).
func (r *Run) Interrupt() {
	if r.mode != Off {
		signalUID(r.uid.id, syscall.SIGINT)
	}
}

// Reap kills every process of the run that is still alive: what a command left behind must not
// outlive it (a provisioner's background shell, a provider that ignored its plugin host).
func (r *Run) Reap() error {
	if r.mode == Off {
		return nil
	}
	return killUID(r.uid.id)
}

// Close kills what is left of the run, removes its network namespace and files and frees its uid.
// The work dir stays: the caller made it and removes it.
func (r *Run) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	var errs []error
	errs = append(errs, r.stopHolder())
	if r.uid != nil {
		errs = append(errs, killUID(r.uid.id))
	}
	if r.net != nil {
		errs = append(errs, r.net.close())
	}
	if r.dir != "" {
		errs = append(errs, os.RemoveAll(r.dir))
	}
	if r.uid != nil {
		errs = append(errs, r.uid.release())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sandbox: close run: %w", err)
	}
	return nil
}

// prepareUID makes the run's HOME and TMPDIR and lets its uid reach the work dir: the dirs between
// the work root and the work dir become traversable (not listable) by others.
func (r *Run) prepareUID() error {
	for _, d := range []string{"home", "tmp"} {
		p := filepath.Join(r.dir, d)
		if err := os.Mkdir(p, 0o700); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		if err := os.Lchown(p, r.uid.id, r.uid.id); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	root := r.s.opts.RunsDir
	for d := filepath.Dir(r.work); strings.HasPrefix(d, root+string(filepath.Separator)); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			return fmt.Errorf("sandbox: work dir: %w", err)
		}
	}
	if !strings.HasPrefix(r.work, root+string(filepath.Separator)) {
		return fmt.Errorf("sandbox: work dir %s is outside %s: in uid mode the run cannot reach it", r.work, root)
	}
	return nil
}

// handOver makes the work dir the run's: its dirs, links and files that are not hard links are
// chowned to uid; a hard-linked file is shared with the source cache, so it stays the agent's and loses
// any group or other write bit. The run can add and replace files, never write into the cache.
func handOver(dir string, uid int) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			if perm := fi.Mode().Perm(); perm&0o022 != 0 {
				return os.Chmod(p, perm&^0o022)
			}
			return nil
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		return fmt.Errorf("sandbox: hand the work dir over: %w", err)
	}
	return nil
}

// chownTree chowns every entry under root to uid; readOnly also strips group and other write bits.
func chownTree(root string, uid int, readOnly bool) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, uid); err != nil {
			return err
		}
		if readOnly && d.Type()&fs.ModeSymlink == 0 {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if perm := fi.Mode().Perm(); perm&0o022 != 0 {
				return os.Chmod(p, perm&^0o022)
			}
		}
		return nil
	})
}

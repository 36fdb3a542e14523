// Package sandbox seals off the processes that run merge-request code: terraform init, plan, show and
// apply, and builds of the Lambda. Each run gets a uid of its own and, where Linux namespaces are
// allowed, a view of the machine that holds only what it needs:
//
//   - namespaces: bubblewrap (Debian's bwrap) started as root gives the run its own PID, IPC, UTS and
//     mount namespaces, and a network namespace of the run's own (`ip netns`) whose only way out is
//     slirp4netns with the host's loopback turned off, and where the metadata endpoints and the host's
//     own addresses are prohibited routes. The mount view holds /usr, the few files of /etc a program
//     needs, a fresh /proc, /dev and /tmp, a blank HOME, the run's work dir and the paths the caller
//     names; the data dir, other runs' trees and the agent's secrets are not in it. Inside, setpriv
//     drops to the run's uid with no capabilities and no_new_privs before terraform starts. When the
//     run ends (or the agent dies: bwrap --die-with-parent) its PID namespace, and every process in it,
//     goes with it.
//   - uid: where namespaces are refused (AWS Fargate, a container without CAP_SYS_ADMIN), the run still
//     gets its own unprivileged uid (setpriv, no_new_privs, parent-death signal), a blank HOME and
//     TMPDIR, work dirs outside the data dir (which stays 0700 and so unreadable), and every process of
//     that uid is killed after each command. It shares the host's network and file system view.
//   - off: terraform runs as the agent's user, as a plain child process.
//
// The terraform runner starts each command through the executable Run.Command writes; the runner
// owns the exec.Cmd (terraform-exec), the sandbox owns what the command can reach.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// Mode is how runs are sealed off.
type Mode string

// The modes, weakest first.
const (
	Off        Mode = "off"
	UID        Mode = "uid"
	Namespaces Mode = "namespaces"
)

// Auto asks New for the strongest mode this machine allows.
const Auto = "auto"

// ParseMode checks a GITOPS_SANDBOX value: auto, namespaces, uid or off ("" is auto).
func ParseMode(s string) (string, error) {
	switch s = strings.TrimSpace(s); s {
	case "", Auto:
		return Auto, nil
	case string(Namespaces), string(UID), string(Off):
		return s, nil
	}
	return "", fmt.Errorf("GITOPS_SANDBOX %q: want auto, namespaces, uid or off", s)
}

// Options configure New.
type Options struct {
	// Mode is auto, namespaces, uid or off; "" means auto.
	Mode string
	// RunsDir is where runs keep what their uid must reach outside the data dir in uid mode (work dirs,
	// HOME, TMPDIR) and where the sandbox keeps its own per-run files (scripts, /etc files). It is
	// created 0711 and owned by the agent. Required unless Mode is off.
	RunsDir string
	// ReadOnly and Writable are host paths every run sees at the same place, read-only or read-write
	// (e.g. a directory of local state files). Namespaces mode only: in uid mode the host's own
	// permissions decide.
	ReadOnly, Writable []string
	// UIDBase and UIDCount bound the uids runs get: [UIDBase, UIDBase+UIDCount). 0 means 1 000 000 and
	// 65 536, far above the ids of the system's users.
	UIDBase, UIDCount int
	Logger            *zerolog.Logger
}

// Sandbox starts sealed runs. Safe for concurrent use.
type Sandbox struct {
	mode  Mode
	opts  Options
	tools tools
	uids  *uidPool
	log   zerolog.Logger

	// namespaces mode: networks kept ready (see keepSpares), until stop closes.
	spare      chan *network
	stop       chan struct{}
	stopOnce   sync.Once
	sparesDone chan struct{}
}

// tools are the programs a mode needs, as absolute paths.
type tools struct {
	bwrap, slirp, ip, nsenter, setpriv string
}

// New returns the sandbox of the mode asked for. auto takes the strongest mode that works here (it
// probes: a real run of each), and logs which; a mode asked for by name that does not work here is an
// error that says why. off is logged as a warning.
func New(ctx context.Context, opts Options) (*Sandbox, error) {
	mode, err := ParseMode(opts.Mode)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{opts: opts, log: zerolog.Nop()}
	if opts.Logger != nil {
		s.log = opts.Logger.With().Str("component", "sandbox").Logger()
	}
	if s.opts.UIDBase <= 0 {
		s.opts.UIDBase = 1_000_000
	}
	if s.opts.UIDCount <= 0 {
		s.opts.UIDCount = 65_536
	}
	if mode == string(Off) {
		s.mode = Off
		s.log.Warn().Msg("GITOPS_SANDBOX=off: terraform runs merge-request code as the agent's own user, with the agent's files, processes and network in reach")
		return s, nil
	}
	if opts.RunsDir == "" {
		return nil, errors.New("sandbox: RunsDir is required")
	}
	if err := s.prepare(); err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range []Mode{Namespaces, UID} {
		if mode != Auto && mode != string(m) {
			continue
		}
		err := s.probe(ctx, m)
		if err == nil {
			s.mode = m
			if m == Namespaces {
				s.spare, s.stop, s.sparesDone = make(chan *network, spareNetworks-1), make(chan struct{}), make(chan struct{})
				go s.keepSpares()
			}
			s.log.Info().Str("mode", string(m)).Msg("sandbox ready")
			return s, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", m, err))
	}
	if mode != Auto {
		return nil, fmt.Errorf("sandbox: GITOPS_SANDBOX=%s does not work here: %w", mode, errors.Join(errs...))
	}
	s.mode = Off
	s.log.Warn().Err(errors.Join(errs...)).Msg("no sandbox works here (GITOPS_SANDBOX=auto): terraform runs merge-request code as the agent's own user")
	return s, nil
}

// Mode is the mode the sandbox runs in.
func (s *Sandbox) Mode() Mode { return s.mode }

// prepare finds the tools and makes the runs dir.
func (s *Sandbox) prepare() error {
	abs, err := filepath.Abs(s.opts.RunsDir)
	if err != nil {
		return fmt.Errorf("sandbox: runs dir: %w", err)
	}
	s.opts.RunsDir = abs
	if err := os.MkdirAll(abs, 0o711); err != nil {
		return fmt.Errorf("sandbox: runs dir: %w", err)
	}
	// MkdirAll leaves an existing dir as it is: the runs dir must be the agent's and not listable.
	if err := os.Chmod(abs, 0o711); err != nil {
		return fmt.Errorf("sandbox: runs dir: %w", err)
	}
	s.uids = newUIDPool(s.opts.UIDBase, s.opts.UIDCount)
	if err := os.MkdirAll(s.uids.dir, 0o700); err != nil {
		return fmt.Errorf("sandbox: uid locks: %w", err)
	}
	look := func(name string) string {
		for _, dir := range []string{"/usr/bin", "/usr/sbin", "/bin", "/sbin"} {
			if p := filepath.Join(dir, name); isExecutable(p) {
				return p
			}
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		return ""
	}
	s.tools = tools{bwrap: look("bwrap"), slirp: look("slirp4netns"), ip: look("ip"), nsenter: look("nsenter"), setpriv: look("setpriv")}
	if os.Geteuid() == 0 {
		if err := errors.Join(s.uids.sweep(), s.sweepNetns()); err != nil {
			s.log.Warn().Err(err).Msg("could not clear what earlier runs left behind")
		}
	}
	return nil
}

// searchable checks that every dir above dir lets other users through: a run's uid reaches its work
// dir, HOME and TMPDIR under the runs dir by path.
func searchable(dir string) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("runs dir %s: %s (mode %v) does not let other users through, so a run's uid cannot reach its work dir", dir, d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// probe starts a run of mode m and runs `true` in it.
func (s *Sandbox) probe(ctx context.Context, m Mode) error {
	if os.Geteuid() != 0 {
		return errors.New("the agent is not root: a run cannot get a uid of its own")
	}
	need := map[string]string{"setpriv": s.tools.setpriv}
	if m == Namespaces {
		need["bwrap"], need["slirp4netns"], need["ip"], need["nsenter"] = s.tools.bwrap, s.tools.slirp, s.tools.ip, s.tools.nsenter
	}
	var missing []string
	for name, p := range need {
		if p == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("not installed: %s", strings.Join(missing, ", "))
	}
	if m == UID {
		if err := searchable(s.opts.RunsDir); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp(s.opts.RunsDir, "probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	run, err := s.start(ctx, m, Spec{Dir: dir})
	if err != nil {
		return err
	}
	defer run.Close()
	cmd, err := run.Command("/usr/bin/true")
	if err != nil {
		return err
	}
	c := exec.CommandContext(ctx, cmd)
	c.Dir = dir
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("a run of true failed: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Spec says what one run works on and sees.
type Spec struct {
	// Dir is the run's work dir, made and filled by the caller: its directories and its files that are
	// not hard links become the run's; its hard-linked files (shared with the source cache) stay the
	// agent's and read-only.
	Dir string
	// ReadOnly and Writable are more host paths the run sees at the same place (namespaces mode), beyond
	// Options.ReadOnly and Options.Writable: e.g. a CLI configuration and a plugin cache. Whether the run
	// can write a path it sees writable still depends on who owns it (see Run.Lend).
	ReadOnly, Writable []string
}

// Start starts a run on spec.Dir; a network namespace is made for it in namespaces mode. Close the run
// when done. In off mode the run does nothing.
func (s *Sandbox) Start(ctx context.Context, spec Spec) (*Run, error) {
	return s.start(ctx, s.mode, spec)
}

// WorkRoot is where work dirs must be made for runs to reach them: "" when anywhere will do (the
// namespaces mode binds the work dir into the run's view; off needs nothing), else a dir under RunsDir
// that the run's uid can traverse (uid mode: the data dir is 0700).
func (s *Sandbox) WorkRoot() string {
	if s.mode != UID {
		return ""
	}
	return filepath.Join(s.opts.RunsDir, "work")
}

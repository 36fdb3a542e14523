package sandbox

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The run's user inside its view, and its HOME there.
const (
	runUser = "run"
	runHome = "/home/run"
)

// hostEtc are the files and dirs of the host's /etc a run sees (when present): CA certificates for
// the registry and the providers' APIs, the links Debian's alternatives make from /usr/bin, the
// dynamic linker's cache and the name service switch. Everything else of /etc (the agent's config and
// secrets among it) is not there; passwd, group, hosts and resolv.conf are the run's own.
var hostEtc = []string{
	"/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/alternatives",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/nsswitch.conf",
	"/etc/protocols", "/etc/services", "/etc/localtime",
}

// rootDirs are the top-level dirs of programs and libraries: bound read-only, or recreated as the
// links they are on a merged-/usr system.
var rootDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// writeEtc writes the run's own /etc files: a passwd and group naming its uid, hosts with localhost
// only, and resolv.conf with slirp4netns's DNS forwarder.
func (r *Run) writeEtc() error {
	dir := filepath.Join(r.dir, "etc")
	files := map[string]string{
		"hosts":       "127.0.0.1 localhost\n::1 localhost\n",
		"resolv.conf": "nameserver 10.0.2.3\n",
	}
	maps.Copy(files, r.userFiles(runUser))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	return nil
}

// userFiles are the run's passwd and group, naming its uid user.
func (r *Run) userFiles(user string) map[string]string {
	id := strconv.Itoa(r.uid.id)
	return map[string]string{
		"passwd": "root:x:0:0:root:/root:/usr/sbin/nologin\n" + user + ":x:" + id + ":" + id + "::" + runHome + ":/bin/sh\n",
		"group":  "root:x:0:\n" + user + ":x:" + id + ":\n",
	}
}

// userName is what SetUser accepts: a portable user name of at most 32 characters.
var userName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// SetUser names the run's user for the commands written after it (Command): the name its processes
// see for their uid (USER and LOGNAME; in namespaces mode also the run's /etc/passwd and /etc/group),
// and so the name Terraform records as the user of the state locks it takes (its lock info's Who is
// user@host). name is 1 to 32 of [a-z0-9-], starting with a letter. In off mode the processes are the
// agent's own user and the name changes nothing.
func (r *Run) SetUser(name string) error {
	if !userName.MatchString(name) {
		return fmt.Errorf("sandbox: user name %q: want 1 to 32 of a-z, 0-9 and -, starting with a letter", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode == Off || r.user == name {
		return nil
	}
	if r.mode == Namespaces {
		// Written in place: the files are bound into the run's view by inode.
		for file, body := range r.userFiles(name) {
			f, err := os.OpenFile(filepath.Join(r.dir, "etc", file), os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				return fmt.Errorf("sandbox: set the user: %w", err)
			}
			_, werr := f.WriteString(body)
			if err := errors.Join(werr, f.Close()); err != nil {
				return fmt.Errorf("sandbox: set the user: %w", err)
			}
		}
	}
	r.user = name
	return nil
}

// uidScript runs bin as the run's uid, with no capabilities, no_new_privs and the parent-death signal
// (the agent's death kills it), HOME and TMPDIR its own.
func (r *Run) uidScript(bin, user string) string {
	return "#!/bin/sh\n" +
		"HOME=" + quote(filepath.Join(r.dir, "home")) + " TMPDIR=" + quote(filepath.Join(r.dir, "tmp")) +
		" USER=" + user + " LOGNAME=" + user + " exec " + r.setpriv(true) + " -- " + quote(bin) + ` "$@"` + "\n"
}

// setpriv is the command line that drops to the run's uid.
func (r *Run) setpriv(deathSignal bool) string {
	id := strconv.Itoa(r.uid.id)
	s := quote(r.s.tools.setpriv) + " --reuid=" + id + " --regid=" + id + " --clear-groups --inh-caps=-all --no-new-privs"
	if deathSignal {
		s += " --pdeathsig=KILL"
	}
	return s
}

// view is the bwrap command line of a run's holder: the run's namespaces (PID, IPC, UTS, cgroup
// where allowed; the network namespace is entered by nsenter around it) and its mount view, holding a
// process that prints "ready" once the view is complete and then sleeps until the run closes. The
// holder runs as root without capabilities, so that reaping the run's uid never ends it.
func (r *Run) view() []string {
	a := []string{
		r.s.tools.nsenter, "--net=" + r.net.path, "--", r.s.tools.bwrap,
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent",
		"--hostname", "gitops-run",
	}
	for _, d := range rootDirs {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(d); err == nil {
				a = append(a, "--symlink", target, d)
			}
		case fi.IsDir():
			a = append(a, "--ro-bind", d, d)
		}
	}
	// /etc is made first, passable by the run's uid: made by a bind below it, it would get the mode of
	// the run's own etc dir (0700) and hide every file bound into it.
	a = append(a, "--perms", "0755", "--dir", "/etc")
	for _, p := range hostEtc {
		if _, err := os.Stat(p); err == nil {
			a = append(a, "--ro-bind", p, p)
		}
	}
	etc := filepath.Join(r.dir, "etc")
	for _, f := range []string{"passwd", "group", "hosts", "resolv.conf"} {
		a = append(a, "--ro-bind", filepath.Join(etc, f), "/etc/"+f)
	}
	a = append(a, "--proc", "/proc", "--dev", "/dev",
		"--perms", "01777", "--tmpfs", "/tmp", "--perms", "0777", "--tmpfs", runHome)
	made := map[string]bool{"/": true, "/tmp": true, "/etc": true, runHome: true}
	for _, d := range rootDirs {
		made[d] = true
	}
	bind := func(flag, p string) {
		a = append(a, parents(p, made)...)
		a = append(a, flag, p, p)
	}
	for _, p := range append(append([]string(nil), r.s.opts.ReadOnly...), r.spec.ReadOnly...) {
		if !strings.HasPrefix(p, "/usr/") {
			bind("--ro-bind", p)
		}
	}
	for _, p := range append(append([]string(nil), r.s.opts.Writable...), r.spec.Writable...) {
		bind("--bind", p)
	}
	bind("--bind", r.work)
	return append(a, "--", "/bin/sh", "-c", "echo ready && exec /usr/bin/sleep infinity")
}

// namespacesScript runs bin inside the run's holder (nsenter into all its namespaces, as root, then
// setpriv to the run's uid) in the caller's dir. SIGINT is ignored by the wrapper processes (nsenter
// would die of it and leave terraform orphaned); terraform, a Go program, takes it back, and
// Run.Interrupt delivers it.
func (r *Run) namespacesScript(bin, user string) string {
	return "#!/bin/sh\ntrap '' INT\n" +
		"HOME=" + runHome + " TMPDIR=/tmp USER=" + user + " LOGNAME=" + user + " exec " + quote(r.s.tools.nsenter) +
		" --target=" + strconv.Itoa(r.holderPID) + ` --mount --uts --ipc --net --pid --wd="$PWD" -- ` +
		r.setpriv(false) + " -- " + quote(bin) + ` "$@"` + "\n"
}

// parents are the bwrap options that make the dirs above p that are not made yet, each passable by
// the run's uid (bwrap would otherwise copy the host's modes, 0700 for a data dir).
func parents(p string, made map[string]bool) []string {
	var dirs []string
	for d := filepath.Dir(p); !made[d]; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		made[d] = true
	}
	var a []string
	for i := len(dirs) - 1; i >= 0; i-- {
		a = append(a, "--perms", "0755", "--dir", dirs[i])
	}
	return a
}

// quote makes s one word for sh.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Package image_test builds the repository's Dockerfile with podman and runs what it made. Base images
// cannot be pulled on the build machines, so scripts/image-bases makes local ones (debootstrap); and
// containers cannot be started there (the runtime's cgroup and rlimit set-up is refused), so the test
// unpacks the built image and runs its entrypoint from that root file system, as the image's user, with
// the capabilities a Fargate task of stacks/agent keeps.
package image_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// fargateCaps are the capabilities stacks/agent leaves the agent's container on Fargate: enough for the
// uid sandbox (a uid per run, its files handed over, its processes killed), nothing more.
var fargateCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"}

// imageConfig is the part of `podman image inspect` the test reads.
type imageConfig struct {
	Config containerConfig
}

// containerConfig is what a runtime takes from the image to start a container.
type containerConfig struct {
	User         string
	Env          []string
	Entrypoint   []string
	Cmd          []string
	WorkingDir   string
	ExposedPorts map[string]struct{}
	Labels       map[string]string
}

// podman runs podman with the test's storage (under ~/.cache, so layers survive between runs).
type podman struct {
	t     *testing.T
	flags []string
	env   []string
}

func (p podman) run(args ...string) []byte {
	p.t.Helper()
	cmd := exec.Command("podman", append(append([]string{}, p.flags...), args...)...)
	cmd.Env = p.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		p.t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, tail(stderr.String(), 4000))
	}
	return out
}

func TestImageBuildsAndServes(t *testing.T) {
	if os.Geteuid() != 0 {
		testsvc.Unavailable(t, "building and unpacking the image needs root")
	}
	for _, tool := range []string{"podman", "debootstrap", "bwrap"} {
		if _, err := exec.LookPath(tool); err != nil {
			testsvc.Unavailable(t, "%s is not installed (apt-get install podman debootstrap bubblewrap)", tool)
		}
	}
	root := testsvc.RepoRoot(t)
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	cache = filepath.Join(cache, "gitops-agent", "image")
	tmp := filepath.Join(cache, "tmp") // buildah keeps RUN --mount=type=cache dirs under TMPDIR
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	pm := podman{t: t, flags: []string{"--root", filepath.Join(cache, "storage")}, env: append(os.Environ(), "TMPDIR="+tmp)}

	bases := exec.Command(filepath.Join(root, "scripts", "image-bases"), pm.flags...)
	bases.Env = pm.env
	out, err := bases.Output()
	if err != nil {
		t.Fatalf("scripts/image-bases: %v\n%s", err, exitStderr(err))
	}
	buildArgs := strings.Fields(string(out))
	if len(buildArgs) != 2 {
		t.Fatalf("scripts/image-bases printed %q, want BASE_IMAGE=… and GO_IMAGE=…", out)
	}

	version := "v0.0.0-image-" + strconv.FormatInt(time.Now().Unix(), 36)
	revision := strings.TrimSpace(string(gitOutput(t, root, "rev-parse", "HEAD")))
	tag := "localhost/gitops-agent:image-test"
	proxy, _ := exec.Command("go", "env", "GOPROXY").Output()
	args := []string{"build", "--isolation=chroot", "--network=host", "--quiet", "-t", tag,
		"--build-arg", "VERSION=" + version, "--build-arg", "REVISION=" + revision,
		"--build-arg", "GOPROXY=" + strings.TrimSpace(string(proxy))}
	for _, a := range buildArgs {
		args = append(args, "--build-arg", a)
	}
	previous := imageID(pm, tag)
	pm.run(append(args, root)...)
	if id := imageID(pm, tag); previous != "" && previous != id {
		// The last run's image: its layers that this build reused stay, as the cache of the next.
		_ = exec.Command("podman", append(append([]string{}, pm.flags...), "rmi", previous)...).Run()
	}

	var inspected []imageConfig
	if err := json.Unmarshal(pm.run("image", "inspect", tag), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect: %v (%d images)", err, len(inspected))
	}
	cfg := inspected[0].Config
	for label, want := range map[string]string{
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": revision,
		"org.opencontainers.image.title":    "gitops-agent",
	} {
		if got := cfg.Labels[label]; got != want {
			t.Errorf("label %s = %q, want %q", label, got, want)
		}
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 8080/tcp (the webhook listener)", cfg.ExposedPorts)
	}

	rootfs := unpack(t, pm, tag)
	checkContents(t, rootfs)

	// `version` prints the stamped version.
	entry := append(append([]string{}, cfg.Entrypoint...), "version")
	if got := runIn(t, rootfs, cfg, entry, nil); !strings.Contains(got, version) {
		t.Errorf("%s printed %q, want the stamped version %s", strings.Join(entry, " "), got, version)
	}
	// `serve` (the image's command) answers /healthz, and the sandbox it finds is the uid mode the
	// documented capability set allows.
	serve(t, rootfs, cfg)
}

// imageID is the id of the image tagged tag, or "" when there is none.
func imageID(pm podman, tag string) string {
	out, err := exec.Command("podman", append(append([]string{}, pm.flags...), "image", "inspect", "--format", "{{.Id}}", tag)...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// unpack writes the image's root file system into a new dir: `podman create` (which starts nothing)
// and `podman export`.
func unpack(t *testing.T, pm podman, tag string) string {
	t.Helper()
	name := "gitops-agent-image-test-" + strconv.Itoa(os.Getpid())
	pm.run("create", "--name", name, tag)
	defer pm.run("rm", name)
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	export := exec.Command("podman", append(append([]string{}, pm.flags...), "export", name)...)
	export.Env = pm.env
	untar := exec.Command("tar", "--numeric-owner", "-xpf", "-", "-C", dir)
	pipe, err := export.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	var exportErr, untarErr bytes.Buffer
	export.Stderr, untar.Stderr = &exportErr, &untarErr
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := export.Run(); err != nil {
		t.Fatalf("podman export: %v\n%s", err, exportErr.String())
	}
	if err := untar.Wait(); err != nil {
		t.Fatalf("tar: %v\n%s", err, untarErr.String())
	}
	return dir
}

// checkContents: the tools the agent and its sandbox need are there, and nothing of a repository is.
func checkContents(t *testing.T, rootfs string) {
	t.Helper()
	for _, p := range []string{"usr/local/bin/gitops-agent", "usr/local/bin/tofu", "usr/local/go/bin/go",
		"usr/bin/bwrap", "usr/bin/slirp4netns", "usr/bin/setpriv", "usr/bin/nsenter", "usr/bin/ip"} {
		if st, err := os.Stat(filepath.Join(rootfs, p)); err != nil || st.Mode()&0o001 == 0 {
			t.Errorf("/%s: want an executable every user may run (err %v)", p, err)
		}
	}
	if st, err := os.Stat(filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt")); err != nil || st.Size() == 0 {
		t.Errorf("no CA certificates in the image: %v", err)
	}
	// No policies, stacks or examples baked in: no .rego and no .tf file anywhere outside Go's own tree.
	_ = filepath.WalkDir(rootfs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(rootfs, path)
		if d.IsDir() && (rel == "proc" || rel == "sys" || rel == "usr/local/go") {
			return filepath.SkipDir
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".rego" || ext == ".tf" || d.Name() == ".gitops.yaml") {
			t.Errorf("the image holds /%s: policies, stacks and repository files are mounted, never baked in", rel)
		}
		return nil
	})
}

// sandboxArgs are bubblewrap's arguments to run argv from rootfs as a container runtime would run the
// image's entrypoint: PID 1 of its own PID namespace (so it gets the runtime's SIGTERM itself), its own
// IPC and UTS namespaces, /proc, /dev and /tmp, the image's working dir and user, only fargateCaps, the
// host's network (so the test reaches its listeners) and env.
func sandboxArgs(t *testing.T, rootfs string, cfg containerConfig, argv, env []string) []string {
	t.Helper()
	args := []string{"--bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
		"--unshare-pid", "--as-pid-1", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session",
		"--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf", "--cap-drop", "ALL"}
	for _, c := range fargateCaps {
		args = append(args, "--cap-add", c)
	}
	if cfg.WorkingDir != "" {
		args = append(args, "--chdir", cfg.WorkingDir)
	}
	args = append(args, "--clearenv")
	for _, kv := range append(append([]string{}, cfg.Env...), env...) {
		k, v, _ := strings.Cut(kv, "=")
		args = append(args, "--setenv", k, v)
	}
	uid, gid := imageUser(t, cfg.User)
	if uid != 0 || gid != 0 {
		// A non-root image user: drop to it inside with the image's own setpriv.
		args = append(args, "/usr/bin/setpriv", "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(gid), "--clear-groups")
	}
	return append(args, argv...)
}

// imageUser reads a numeric USER (uid or uid:gid); empty is root, as for a container runtime.
func imageUser(t *testing.T, user string) (int, int) {
	t.Helper()
	if user == "" {
		return 0, 0
	}
	u, g, hasGroup := strings.Cut(user, ":")
	uid, err := strconv.Atoi(u)
	if err != nil {
		t.Fatalf("image user %q: the image must name its user by number", user)
	}
	gid := uid
	if hasGroup {
		if gid, err = strconv.Atoi(g); err != nil {
			t.Fatalf("image user %q: the group must be a number", user)
		}
	}
	return uid, gid
}

// runIn runs argv to completion in rootfs and returns its combined output.
func runIn(t *testing.T, rootfs string, cfg containerConfig, argv, env []string) string {
	t.Helper()
	cmd := exec.Command("bwrap", sandboxArgs(t, rootfs, cfg, argv, env)...)
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in the image: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// serve starts the image's entrypoint and command against a GitLab stand-in, and checks its listeners.
func serve(t *testing.T, rootfs string, cfg containerConfig) {
	t.Helper()
	gl := gitlabfake.New(t, clitest.Token)
	listen := "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t))
	admin := "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t))
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	env := []string{"GITLAB_URL=" + gl.URL(), "GITLAB_TOKEN=" + clitest.Token, "GITLAB_WEBHOOK_SECRET=" + clitest.Secret,
		"GITOPS_LISTEN=" + listen, "GITOPS_ADMIN_LISTEN=" + admin, "GITOPS_POLL_INTERVAL=0", "GITOPS_SHUTDOWN_TIMEOUT=2s"}
	cmd := exec.Command("bwrap", sandboxArgs(t, rootfs, cfg, argv, env)...)
	cmd.Env = []string{}
	logs := &testsvc.LogBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()

	deadline := time.Now().Add(2 * time.Minute)
	var body string
	for {
		code, b, err := get("http://" + listen + "/healthz")
		if err == nil && code == http.StatusOK {
			body = b
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("serve exited before answering /healthz: %v\n%s", err, tail(logs.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer /healthz in 2m (last: %d %v)\n%s", code, err, tail(logs.String(), 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(body, "ok") {
		t.Errorf("/healthz answered %q", body)
	}
	code, metrics, err := get("http://" + admin + "/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("admin /metrics: %d %v", code, err)
	}
	if !strings.Contains(metrics, `gitops_sandbox_mode{mode="uid"} 1`) {
		t.Errorf("with the Fargate capabilities the image's agent should seal runs off in uid mode; metrics say:\n%s\nlogs:\n%s",
			grepLines(metrics, "gitops_sandbox_mode"), tail(logs.String(), 4000))
	}

	// What `docker stop` does: SIGTERM to the container's PID 1, the entrypoint, which is bubblewrap's
	// only child.
	child, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	pid, convErr := strconv.Atoi(strings.TrimSpace(string(child)))
	if err != nil || convErr != nil {
		t.Fatalf("the entrypoint's pid: %v %v (%q)", err, convErr, child)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("serve did not exit cleanly on SIGTERM: %v\n%s", err, tail(logs.String(), 4000))
		}
	case <-time.After(time.Minute):
		t.Errorf("serve did not exit within a minute of SIGTERM\n%s", tail(logs.String(), 4000))
	}
}

func get(url string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

func gitOutput(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func exitStderr(err error) string {
	if e, ok := err.(*exec.ExitError); ok {
		return tail(string(e.Stderr), 4000)
	}
	return ""
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return fmt.Sprint(out)
}

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// blocked are the destinations no run may reach: the EC2 instance metadata service (IPv4 and its
// IPv6 address), the ECS task metadata and credentials endpoint (169.254.170.2, inside the link-local
// range) and the rest of the link-local range. The host's own addresses are added per run.
var blocked = []string{"169.254.0.0/16", "fd00:ec2::254/128"}

// slirpReady bounds how long slirp4netns may take to set up a namespace's network.
const slirpReady = 10 * time.Second

// netns is a run's network namespace: its only way out is slirp4netns (the host's loopback turned
// off), and every blocked destination and host address is a prohibited route there.
type netns struct {
	ip    string
	name  string
	path  string
	slirp *exec.Cmd
	exit  *os.File // closing it tells slirp4netns to exit
}

func newNetns(ctx context.Context, t tools, name string) (*netns, error) {
	n := &netns{ip: t.ip, name: name, path: filepath.Join("/run/netns", name)}
	// A namespace of this name was left by an agent that crashed while it held the uid.
	if _, err := os.Stat(n.path); err == nil {
		_ = exec.CommandContext(ctx, t.ip, "netns", "delete", name).Run()
	}
	if out, err := exec.CommandContext(ctx, t.ip, "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sandbox: ip netns add: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := n.startSlirp(ctx, t.slirp); err != nil {
		return nil, errors.Join(err, n.close())
	}
	if err := n.block(ctx); err != nil {
		return nil, errors.Join(err, n.close())
	}
	return n, nil
}

// startSlirp connects the namespace to the outside through slirp4netns and waits until it is up.
func (n *netns) startSlirp(ctx context.Context, slirp string) error {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sandbox: slirp4netns: %w", err)
	}
	defer readyR.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return fmt.Errorf("sandbox: slirp4netns: %w", err)
	}
	cmd := exec.Command(slirp, "--configure", "--mtu=65520", "--disable-host-loopback",
		"--ready-fd=3", "--exit-fd=4", "--netns-type=path", n.path, "tap0")
	cmd.ExtraFiles = []*os.File{readyW, exitR}
	cmd.SysProcAttr = helperAttr()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		exitW.Close()
		return fmt.Errorf("sandbox: slirp4netns: %w", err)
	}
	n.slirp, n.exit = cmd, exitW
	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := readyR.Read(b)
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-time.After(slirpReady):
		err = errors.New("not ready in time")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("sandbox: slirp4netns: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// block adds a prohibited route for every blocked destination and every address of the host: a run
// gets "permission denied" at once, where slirp4netns would otherwise connect it to the agent's
// listeners or to the metadata service from the host's side.
func (n *netns) block(ctx context.Context) error {
	dests := append([]string(nil), blocked...)
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("sandbox: host addresses: %w", err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() {
			continue
		}
		bits := 32
		if ipn.IP.To4() == nil {
			bits = 128
		}
		dests = append(dests, ipn.IP.String()+"/"+strconv.Itoa(bits))
	}
	var v4, v6 strings.Builder
	for _, d := range dests {
		b := &v4
		if strings.Contains(d, ":") {
			b = &v6
		}
		b.WriteString("route add prohibit " + d + "\n")
	}
	// One ip process per family: IPv6 may be off in the namespace, and then nothing of IPv6 is reachable
	// from it anyway, so its errors are ignored (-force goes on past them).
	if out, err := n.ipBatch(ctx, v4.String()); err != nil {
		return fmt.Errorf("sandbox: block the metadata service and the host: %w: %s", err, strings.TrimSpace(string(out)))
	}
	_, _ = n.ipBatch(ctx, v6.String(), "-force")
	return nil
}

// ipBatch runs the ip commands of batch in the namespace.
func (n *netns) ipBatch(ctx context.Context, batch string, flags ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, n.ip, append(append([]string{"-n", n.name}, flags...), "-batch", "-")...)
	cmd.Stdin = strings.NewReader(batch)
	return cmd.CombinedOutput()
}

func (n *netns) close() error {
	var errs []error
	if n.exit != nil {
		n.exit.Close()
		done := make(chan error, 1)
		go func() { done <- n.slirp.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = n.slirp.Process.Kill()
			<-done
		}
	}
	if out, err := exec.Command(n.ip, "netns", "delete", n.name).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("ip netns delete %s: %w: %s", n.name, err, strings.TrimSpace(string(out))))
	}
	return errors.Join(errs...)
}

// sweepNetns deletes the network namespaces of runs that no agent holds any longer (an agent killed
// before it could close its runs leaves them).
func (s *Sandbox) sweepNetns() error {
	entries, err := os.ReadDir("/run/netns")
	if err != nil || s.tools.ip == "" {
		return nil // no namespaces made here yet, or no way to make any
	}
	var errs []error
	for _, e := range entries {
		id, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "gitops-"))
		if err != nil || !strings.HasPrefix(e.Name(), "gitops-") || id < s.uids.base || id >= s.uids.base+s.uids.count {
			continue
		}
		lease, err := s.uids.take(id)
		if err != nil || lease == nil {
			errs = append(errs, err)
			continue
		}
		if out, err := exec.Command(s.tools.ip, "netns", "delete", e.Name()).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns delete %s: %w: %s", e.Name(), err, strings.TrimSpace(string(out))))
		}
		errs = append(errs, lease.release())
	}
	return errors.Join(errs...)
}

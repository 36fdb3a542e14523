package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// holderReady bounds how long a run's holder may take to build its view.
const holderReady = 30 * time.Second

// startHolder starts the process that holds a namespaces-mode run's namespaces and view (see view),
// and waits until the view is complete. Every command of the run enters it (namespacesScript), so a
// command costs an nsenter, not a new view. The holder dies with the agent (bwrap --die-with-parent,
// and the parent-death signal), and with it every process of the run.
func (r *Run) startHolder(ctx context.Context) error {
	infoR, infoW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sandbox: holder: %w", err)
	}
	defer infoR.Close()
	args := r.view()
	// --info-fd goes before the command: bwrap writes {"child-pid": N} there, N being the host pid of
	// the sandbox's first process, which is in every namespace of the run.
	n := len(args) - 4
	args = append(args[:n:n], append([]string{"--info-fd", "3"}, args[n:]...)...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.ExtraFiles = []*os.File{infoW}
	cmd.SysProcAttr = helperAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		infoW.Close()
		return fmt.Errorf("sandbox: holder: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Start()
	infoW.Close()
	if err != nil {
		return fmt.Errorf("sandbox: holder: %w", err)
	}
	r.holder = cmd
	type result struct {
		pid int
		err error
	}
	done := make(chan result, 1)
	go func() {
		var info struct {
			ChildPID int `json:"child-pid"`
		}
		if err := json.NewDecoder(infoR).Decode(&info); err != nil {
			done <- result{err: fmt.Errorf("read its pid: %w", err)}
			return
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != "ready\n" {
			done <- result{err: fmt.Errorf("its view was not built (%q, %v)", line, err)}
			return
		}
		done <- result{pid: info.ChildPID}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(holderReady):
		res.err = errors.New("not ready in time")
	case <-ctx.Done():
		res.err = ctx.Err()
	}
	if res.err != nil {
		return fmt.Errorf("sandbox: holder: %w: %s", res.err, strings.TrimSpace(stderr.String()))
	}
	r.holderPID = res.pid
	return nil
}

// stopHolder kills the holder, and with it the run's namespaces and every process left in them.
func (r *Run) stopHolder() error {
	if r.holder == nil {
		return nil
	}
	_ = r.holder.Process.Kill()
	err := r.holder.Wait()
	r.holder = nil
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return fmt.Errorf("sandbox: holder: %w", err)
	}
	return nil
}

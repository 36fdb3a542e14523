package terraform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// waitForFile polls for path until it exists or done is closed; it fails the test if done closes first.
func waitForFile(t testing.TB, path string, done <-chan struct{}) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("the run ended before %s appeared", path)
		case <-tick.C:
		}
	}
}

// TestCancelApply cancels an apply that blocks in a provisioner: terraform is interrupted, stops on its
// own within the grace period and releases the state lock, so the next plan runs at once.
func TestCancelApply(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{})
	dir := stack(t, "slow")
	w := mustOpen(t, r, Request{Dir: dir})
	res, err := w.Plan(context.Background(), planFile(t))
	if err != nil {
		t.Fatalf("Plan: %v\n%s", err, diagnostics(err))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	var out string
	go func() {
		defer close(done)
		out, err = w.Apply(ctx, res.PlanFile)
	}()
	waitForFile(t, filepath.Join(dir, "started"), done)
	if _, statErr := os.Stat(filepath.Join(dir, ".terraform.tfstate.lock.info")); statErr != nil {
		t.Fatalf("apply does not hold the state lock while it runs: %v", statErr)
	}
	cancel()
	<-done

	var e *Error
	if !errors.As(err, &e) || e.Step != StepApply {
		t.Fatalf("cancelled Apply: got %v, want an apply *Error", err)
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("cancelled Apply: got %q, want an interruption matching context.Canceled", err)
	}
	if !strings.Contains(out, "Interrupt received") {
		t.Errorf("apply output up to the interrupt is missing:\n%s", out)
	}
	if _, statErr := os.Stat(filepath.Join(dir, ".terraform.tfstate.lock.info")); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("state lock info left behind after the interrupt (%v)", statErr)
	}
	// The same Workspace plans again: an interrupted apply leaves it usable.
	next, planErr := w.Plan(context.Background(), planFile(t))
	if planErr != nil {
		t.Fatalf("plan after the cancelled apply: %v\n%s", planErr, diagnostics(planErr))
	}
	// terraform says "is tainted, so must be replaced", OpenTofu "is tainted, so it must be replaced".
	if !taintedRE.MatchString(next.Text) {
		t.Errorf("plan after the interrupted apply does not replace the half-made resource:\n%s", next.Text)
	}
}

var taintedRE = regexp.MustCompile(`is tainted, so (it )?must be replaced`)

// TestCancelPlanWaitingForLock cancels a plan that waits for a state lock another work dir holds: the
// plan ends although the lock never came free.
func TestCancelPlanWaitingForLock(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{LockTimeout: 10 * time.Minute})
	backend := sharedBackend(t)
	holder := stack(t, "slow")
	res := mustPlan(t, r, planReq{Request{Dir: holder, BackendConfig: backend}, planFile(t)})

	applyCtx, stopApply := context.WithCancel(context.Background())
	defer stopApply()
	applyDone := make(chan struct{})
	go func() {
		defer close(applyDone)
		_, _ = openAndApply(applyCtx, r, Request{Dir: holder, BackendConfig: backend}, res.PlanFile)
	}()
	waitForFile(t, filepath.Join(holder, "started"), applyDone)

	ctx, cancel := context.WithCancel(context.Background())
	planDone := make(chan error, 1)
	go func() {
		_, err := openAndPlan(ctx, r, planReq{Request{Dir: stack(t, "slow"), BackendConfig: backend}, planFile(t)})
		planDone <- err
	}()
	select {
	case err := <-planDone:
		t.Fatalf("plan ended while another run held the lock: %v", err)
	case <-time.After(2 * time.Second):
	}
	cancel()
	err := <-planDone
	var e *Error
	if !errors.As(err, &e) || e.Step != StepPlan || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled plan: got %v, want a plan *Error matching context.Canceled", err)
	}
	stopApply()
	<-applyDone
}

// TestCancelKillsAfterGrace runs a stand-in binary that ignores SIGINT, as a terraform stuck in a
// provider call would: after the grace period it is killed, and the error says so. A real terraform
// always honours the interrupt promptly, so it cannot exercise this path.
func TestCancelKillsAfterGrace(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "terraform")
	script := `#!/bin/sh
case "$1" in
version) echo '{"terraform_version":"1.11.4","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}' ;;
*) trap '' INT; touch "$STARTED"; exec sleep 300 ;;
esac
`
	testsvc.WriteExecutable(t, bin, []byte(script))
	r, err := NewRunner(Options{Binary: bin, DataDir: t.TempDir(), CancelGrace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	started := filepath.Join(t.TempDir(), "started")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err = openAndPlan(ctx, r, planReq{Request{Dir: t.TempDir(), Env: map[string]string{"STARTED": started}}, planFile(t)})
	}()
	waitForFile(t, started, done)
	cancel()
	<-done
	var e *Error
	if !errors.As(err, &e) || e.Step != StepInit {
		t.Fatalf("got %v, want an init *Error", err)
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "killed 100ms after the interrupt") {
		t.Errorf("got %q, want a kill after the grace period matching context.Canceled", err)
	}
}

// TestReadOnlyPlanIgnoresTheLock plans while another run holds the state lock: a read-only plan (an MR's)
// goes ahead, a locking plan (a promotion's) fails once its lock timeout passes with an error that says
// the state was locked, and a read-only workspace refuses to apply.
func TestReadOnlyPlanIgnoresTheLock(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{LockTimeout: time.Second})
	backend := sharedBackend(t)
	holder := stack(t, "slow")
	res := mustPlan(t, r, planReq{Request{Dir: holder, BackendConfig: backend}, planFile(t)})
	applyCtx, stopApply := context.WithCancel(context.Background())
	applyDone := make(chan struct{})
	go func() {
		defer close(applyDone)
		_, _ = openAndApply(applyCtx, r, Request{Dir: holder, BackendConfig: backend}, res.PlanFile)
	}()
	defer func() { stopApply(); <-applyDone }()
	waitForFile(t, filepath.Join(holder, "started"), applyDone)

	ro := mustOpen(t, r, Request{Dir: stack(t, "slow"), BackendConfig: backend, ReadOnly: true})
	if _, err := ro.Plan(context.Background(), planFile(t)); err != nil {
		t.Fatalf("read-only plan while the state is locked: %v\n%s", err, diagnostics(err))
	}
	if _, err := ro.Apply(context.Background(), planFile(t)); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("apply in a read-only workspace: %v, want a refusal", err)
	}
	_, err := openAndPlan(context.Background(), r, planReq{Request{Dir: stack(t, "slow"), BackendConfig: backend}, planFile(t)})
	var e *Error
	if !errors.As(err, &e) || !e.StateLocked() {
		t.Errorf("locking plan while the state is locked: %v, want an *Error with StateLocked", err)
	}
}

package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// What the ledger records on a run the agent stopped in the middle of, closed by the step that resumes it.
const (
	interruptedApply = "interrupted: the agent stopped during the apply"
	interruptedPlan  = "interrupted: the agent stopped during the plan"
)

// stateLock is in whose name a promotion's terraform takes the state lock: Holder, the user name it runs
// as in its sandbox (Terraform records user@host as the lock's Who), and Stale, the Holder of the
// stack × stage's interrupted run, whose lock (and no other) may be released; Since is when that run
// started. All are zero for plans that take no lock.
type stateLock struct {
	Holder, Stale string
	Since         time.Time
}

// clockSkew is how much earlier than the interrupted run's start (the agent's clock) the forge's clock
// may date the lock that run took.
const clockSkew = 2 * time.Minute

// staleLock is the WorkspaceSpec.StaleLock of l: whether the lock of the state at address is the one the
// interrupted run took, as locks tell it (the agent's own forge user took it, after that run started, less
// clockSkew). The caller holds the stack × stage's lock: no other run of the agent can hold the state's
// lock in the meantime. nil without an interrupted run, or without locks.
func (l stateLock) staleLock(locks StateLocks) func(ctx context.Context, address string) (bool, error) {
	if l.Stale == "" || l.Since.IsZero() || locks == nil {
		return nil
	}
	since := l.Since.Add(-clockSkew)
	return func(ctx context.Context, address string) (bool, error) {
		return locks.OwnStateLock(ctx, address, since)
	}
}

// holderEncoding spells a holder's random part: lowercase letters and digits only, as a user name wants.
var holderEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newHolder is a fresh lock holder: "gitops-" and 16 random characters, a valid user name of 23
// characters ([a-z0-9-], starting with a letter; at most 32).
func newHolder() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make the run's lock holder: %w", err)
	}
	return "gitops-" + holderEncoding.EncodeToString(b), nil
}

// resume, called under the stack × stage's lock before the step's run starts, closes the target's run
// that the agent stopped in the middle of, if there is one, and returns the state lock the new run works
// under: a fresh holder, and the interrupted run's holder as the stale one. A step whose own earlier run
// was stopped during its apply is marked Resumed (the note says so with what the new plan does); an
// interrupted plan is simply planned again.
func (j *promotion) resume(ctx context.Context, s *gitops.Step) (stateLock, error) {
	holder, err := newHolder()
	if err != nil {
		return stateLock{}, err
	}
	lock := stateLock{Holder: holder}
	prev, ok, err := j.r.Ledger.Unfinished(ctx, j.req.Project, s.Stack, s.Stage)
	if err != nil {
		return stateLock{}, fmt.Errorf("read the ledger: %w", err)
	}
	if !ok {
		return lock, nil
	}
	text := interruptedPlan
	if prev.State == gitops.RunApplying {
		text = interruptedApply
		s.Resumed = prev.Commit == j.req.Commit
	}
	if err := j.r.Ledger.FinishRun(ctx, prev.ID, gitops.RunFailed, prev.Summary, text); err != nil {
		return stateLock{}, fmt.Errorf("close the interrupted run: %w", err)
	}
	if strings.HasPrefix(prev.Holder, "gitops-") {
		lock.Stale, lock.Since = prev.Holder, prev.StartedAt
	}
	j.log.Warn().Str("stack", s.Stack).Str("stage", s.Stage).Str("commit", prev.Commit).
		Str("interrupted", string(prev.State)).Msg("resuming a step the agent was stopped in the middle of")
	return lock, nil
}

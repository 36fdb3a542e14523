package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// What the ledger records on a run the agent stopped in the middle of, closed by the step that resumes it,
// and on a run whose apply ended to be retried (the text of interruptedApply, then the error).
const (
	interruptedApply = "interrupted: the agent stopped during the apply"
	interruptedPlan  = "interrupted: the agent stopped during the plan"
)

// stateLock is in whose name a promotion's terraform takes the state lock: Holder, the user name it runs
// as in its sandbox (Terraform records user@host as the lock's Who), and Stale, the Holders of the stack ×
// stage's interrupted runs (every run no step has settled since: see Ledger.Interrupted), whose locks (and
// no other) may be released; Since is when the oldest of them started. runs are those runs, settled when
// the step ends for good. All are zero for plans that take no lock.
type stateLock struct {
	Holder string
	Stale  []string
	Since  time.Time
	runs   []int64
}

// clockSkew is how much earlier than the interrupted run's start (the agent's clock) the forge's clock
// may date the lock that run took.
const clockSkew = 2 * time.Minute

// staleLock is the WorkspaceSpec.StaleLock of l: whether the lock of the state at address is one an
// interrupted run took, as locks tell it (the agent's own forge user took it, after the oldest of those
// runs started, less clockSkew). The caller holds the stack × stage's lock: no other run of the agent can
// hold the state's lock in the meantime. nil without an interrupted run, or without locks.
func (l stateLock) staleLock(locks StateLocks) func(ctx context.Context, address string) (bool, error) {
	if len(l.Stale) == 0 || l.Since.IsZero() || locks == nil {
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

// resume, called under the stack × stage's lock before the step's run starts, gathers the target's runs
// that the agent stopped in the middle of, or that ended to be retried, since a step of it last ended for
// good, and returns the state lock the new run works under: a fresh holder, and those runs' holders as the
// stale ones. It closes those of them still unfinished, with what they were doing; they stay gathered
// until a step ends for good (see record), however often the agent is stopped meanwhile. A step whose own
// earlier run was stopped during its apply is marked Resumed (the note says so with what the new plan
// does); an interrupted plan is simply planned again.
func (j *promotion) resume(ctx context.Context, s *gitops.Step) (stateLock, error) {
	holder, err := newHolder()
	if err != nil {
		return stateLock{}, err
	}
	lock := stateLock{Holder: holder}
	prev, err := j.r.Ledger.Interrupted(ctx, j.req.Project, s.Stack, s.Stage)
	if err != nil {
		return stateLock{}, fmt.Errorf("read the ledger: %w", err)
	}
	for _, r := range prev {
		lock.runs = append(lock.runs, r.ID)
		applying := r.State == gitops.RunApplying || strings.HasPrefix(r.Error, interruptedApply)
		s.Resumed = s.Resumed || applying && r.Commit == j.req.Commit
		if strings.HasPrefix(r.Holder, "gitops-") && !slices.Contains(lock.Stale, r.Holder) {
			lock.Stale = append(lock.Stale, r.Holder)
		}
		if !r.StartedAt.IsZero() && (lock.Since.IsZero() || r.StartedAt.Before(lock.Since)) {
			lock.Since = r.StartedAt
		}
		if !r.State.Unfinished() {
			continue
		}
		text := interruptedPlan
		if r.State == gitops.RunApplying {
			text = interruptedApply
		}
		if err := j.r.Ledger.FinishRun(ctx, r.ID, gitops.RunFailed, r.Summary, text); err != nil {
			return stateLock{}, fmt.Errorf("close the interrupted run: %w", err)
		}
		j.log.Warn().Str("stack", s.Stack).Str("stage", s.Stage).Str("commit", r.Commit).
			Str("interrupted", string(r.State)).Msg("resuming a step the agent was stopped in the middle of")
	}
	if len(lock.Stale) == 0 {
		lock.Since = time.Time{}
	}
	return lock, nil
}

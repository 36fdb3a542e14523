package pipeline

import (
	"context"
	"fmt"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// A promotion whose project has an earlier promotion unfinished looks again every earlierPoll for up to
// earlierGrace (the earlier one is often about to finish), then goes back to the queue for earlierRequeue
// so as not to hold a worker.
const (
	earlierPoll    = 100 * time.Millisecond
	earlierGrace   = time.Second
	earlierRequeue = 500 * time.Millisecond
)

// waitForEarlier returns an earlier, unfinished promotion of the project that applies one of the stacks
// or releases one of the functions this one does (0 when none), after waiting up to earlierGrace for such
// promotions to finish: merges are promoted in merge order per stack and function, and promotions of
// disjoint ones run side by side. An earlier merge request whose changed files cannot be read counts as
// overlapping.
func (j *promotion) waitForEarlier(ctx context.Context, at Attempt, c *change) (int, error) {
	ours := targets(c.affected, c.functions)
	overlap := map[int]bool{} // per earlier merge request, whether its targets meet ours
	deadline := time.Now().Add(earlierGrace)
	for {
		earlier, err := at.Earlier(ctx)
		if err != nil {
			return 0, err
		}
		blocking := 0
		for _, mr := range earlier {
			meets, known := overlap[mr]
			if !known {
				meets = j.meets(ctx, c.cfg, ours, mr)
				overlap[mr] = meets
			}
			if meets {
				blocking = mr
				break
			}
		}
		if blocking == 0 || time.Now().After(deadline) {
			return blocking, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(earlierPoll):
		}
	}
}

// targets names stacks and functions as a promotion's steps do: a stack by its name, a function as
// "function:NAME".
func targets(stacks []config.Stack, fns []config.Function) map[string]bool {
	out := map[string]bool{}
	for _, s := range stacks {
		out[s.Name] = true
	}
	for _, f := range fns {
		out["function:"+f.Name] = true
	}
	return out
}

// stepTarget is the step's key in targets.
func stepTarget(s gitops.Step) string {
	if s.Kind == gitops.StepRelease {
		return "function:" + s.Function
	}
	return s.Stack
}

// meets reports whether merge request mr changes a stack or function in ours, read through this commit's
// config.
func (j *promotion) meets(ctx context.Context, cfg *config.Config, ours map[string]bool, mr int) bool {
	changed, err := j.r.MRs.ChangedPaths(ctx, j.req.Project, mr)
	if err != nil {
		j.log.Warn().Err(err).Int("earlier_mr", mr).Msg("list the files an earlier merge request changed; waiting for it")
		return true
	}
	for t := range targets(affectedStacks(cfg, changed), affectedFunctions(cfg, changed)) {
		if ours[t] {
			return true
		}
	}
	return false
}

// supersededBy returns the merge request of a newer promotion waiting to start that applies every stack
// this promotion has left from step i on, or 0 when there is none (or it cannot be told): the newer merge
// commit contains this one's changes, so this promotion may leave it those steps. The newer merge
// request's changed files are matched against this commit's configuration.
func (j *promotion) supersededBy(ctx context.Context, at Attempt, cfg *config.Config, i int) int {
	newer, err := at.Later(ctx)
	if err != nil {
		j.log.Warn().Err(err).Msg("look for newer promotions")
		return 0
	}
	if newer <= 0 {
		return 0
	}
	changed, err := j.r.MRs.ChangedPaths(ctx, j.req.Project, newer)
	if err != nil {
		j.log.Warn().Err(err).Int("newer_mr", newer).Msg("list the files a newer merge request changed")
		return 0
	}
	covered := targets(affectedStacks(cfg, changed), affectedFunctions(cfg, changed))
	for _, s := range j.out.Steps[i:] {
		if s.State == gitops.StepWaiting && !covered[stepTarget(s)] {
			return 0
		}
	}
	return newer
}

// laterLive returns the merge request whose commit is live on stack × stage when it was merged after this
// promotion's merge request, else 0.
func (j *promotion) laterLive(ctx context.Context, stack, stage string) (int, error) {
	if j.mergedAt == nil {
		return 0, nil
	}
	live, err := j.r.Ledger.Live(ctx, j.req.Project)
	if err != nil {
		return 0, err
	}
	for _, l := range live {
		if l.Stack != stack || l.Stage != stage {
			continue
		}
		if later, err := j.mergedLater(ctx, l.MR); err != nil || later {
			return l.MR, err
		}
	}
	return 0, nil
}

// mergedLater reports whether merge request mr (0: none) is another one, merged after this promotion's.
func (j *promotion) mergedLater(ctx context.Context, mr int) (bool, error) {
	if j.mergedAt == nil || mr == 0 || mr == j.req.MR {
		return false, nil
	}
	theirs, err := j.r.MRs.MergeRequest(ctx, j.req.Project, mr)
	if err != nil {
		return false, fmt.Errorf("read !%d: %w", mr, err)
	}
	return theirs.MergedAt != nil && theirs.MergedAt.After(*j.mergedAt), nil
}

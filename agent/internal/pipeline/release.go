package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// maxSmoke bounds a smoke event read from the tree (Lambda's synchronous payload limit is 6 MB).
const maxSmoke = 256 << 10

// unchanged starts the summary of a release step that found its build live already.
const unchanged = "unchanged"

// affectedFunctions are the functions a change may alter the build of: all of them when it changes
// .gitops.yaml, go.mod, go.sum, go.work or any Go file (a package may import any other), else those whose
// package dir it changes. A release whose build turns out identical to the live one does nothing.
func affectedFunctions(cfg *config.Config, changed []string) []config.Function {
	var out []config.Function
	for _, fn := range cfg.Functions {
		if slices.ContainsFunc(changed, func(p string) bool { return buildInput(fn, p) }) {
			out = append(out, fn)
		}
	}
	return out
}

func buildInput(fn config.Function, p string) bool {
	switch p {
	case config.FileName, "go.mod", "go.sum", "go.work", "go.work.sum":
		return true
	}
	return strings.HasSuffix(p, ".go") || fn.Package == "." || strings.HasPrefix(p, fn.Package+"/")
}

// releaseSteps are the release steps of stage for the functions the change affects: after the stage's
// stacks, so that the stacks a function comes after (and the alarms its canary watches) are applied.
func releaseSteps(c *change, stage string) []gitops.Step {
	var out []gitops.Step
	for _, fn := range c.functions {
		if fn.RunsIn(stage) {
			out = append(out, gitops.Step{Kind: gitops.StepRelease, Function: fn.Name, Stage: stage, State: gitops.StepWaiting})
		}
	}
	return out
}

// release runs step i, of kind StepRelease: under the function × stage's lock, it builds the function at
// the promoted commit (once per promotion) and releases it with the stage's role, unless this build is
// live there already. The release's ledger record always gets an outcome. A resumed release (the agent
// stopped during one) starts again from the alias as it is: the release never leaves traffic split.
func (j *promotion) release(ctx context.Context, c *change, stage config.Stage, i int) (err error) {
	r, s := j.r, &j.out.Steps[i]
	fn, _ := c.cfg.Function(s.Function)
	held, unlock, err := j.hold(ctx, "function:"+fn.Name, s.Stage)
	if err != nil {
		return err
	}
	defer unlock()
	defer lockLost(ctx, held, &err)
	ctx = held
	last, resumed, err := r.Releases.LastRelease(ctx, j.req.Project, fn.Name, s.Stage, j.req.Commit)
	if err != nil {
		return fmt.Errorf("read the ledger: %w", err)
	}
	if resumed && last.State == gitops.RunReleased {
		s.State, s.Release, s.Summary = gitops.StepDone, &last.Release, "released before the agent restarted"
		return nil
	}
	resumed = resumed && last.State.Unfinished()
	live, isLive, err := r.Releases.LastRelease(ctx, j.req.Project, fn.Name, s.Stage, "")
	if err != nil {
		return fmt.Errorf("read the ledger: %w", err)
	}
	if isLive {
		if later, err := j.mergedLater(ctx, live.MR); err != nil {
			return err
		} else if later {
			s.State, s.Reason = gitops.StepSkipped, fmt.Sprintf("!%d, merged later, is live here already and contains this change", live.MR)
			return nil
		}
	}
	s.State, s.Started = gitops.StepBuilding, time.Now()
	j.publish(ctx)
	art, err := j.build(ctx, c, fn)
	if err != nil {
		return err
	}
	rel := gitops.Release{Function: fn.Name, FunctionName: fn.FunctionNameFor(s.Stage), Alias: fn.Alias, SHA256: art.SHA256}
	if isLive && live.Release.SHA256 == art.SHA256 && !resumed {
		s.State, s.Release = gitops.StepDone, &live.Release
		s.Summary = fmt.Sprintf("%s: this build is live already (version %s)", unchanged, live.Release.NewVersion)
		return nil
	}
	if resumed {
		rel.OldVersion = last.Release.OldVersion
	}
	req := ReleaseRequest{Function: fn, Stage: s.Stage, FunctionName: rel.FunctionName, Artifact: art, Alarms: fn.AlarmsFor(s.Stage)}
	if req.Smoke, err = readSmoke(c.tree, fn.Smoke); err != nil {
		return err
	}
	if stage.RoleARN != "" && r.Credentials != nil {
		if req.Env, err = r.Credentials(ctx, stage.RoleARN, j.req.Project, j.req.MR); err != nil {
			return fmt.Errorf("assume the deploy role of %s: %w", s.Stage, err)
		}
	}
	id, err := r.Releases.StartRelease(ctx, gitops.ReleaseRun{Project: j.req.Project, MR: j.req.MR, Commit: j.req.Commit, Function: fn.Name, Stage: s.Stage, Release: rel})
	if err != nil {
		return fmt.Errorf("record the release: %w", err)
	}
	s.State, s.Release = gitops.StepReleasing, &rel
	defer j.recordRelease(ctx, id, s, &err)
	j.publish(ctx)
	return j.shift(ctx, s, req, resumed)
}

// shift releases req with the step's deadline stretched by the bakes (bake time does not count against
// the step timeout), keeping the step's release up to date as the alias moves.
func (j *promotion) shift(ctx context.Context, s *gitops.Step, req ReleaseRequest, resumed bool) error {
	outer, start, old := ctx, time.Now(), s.Release.OldVersion
	if t := j.r.StepTimeout; t > 0 {
		for _, b := range req.Function.Plan() {
			t += b.Bake
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t, errStepTimeout)
		defer cancel()
	}
	req.Progress = func(rel gitops.Release) {
		*s.Release = j.resumedFrom(rel, old, resumed)
		s.Summary = fmt.Sprintf("%d%% on version %s", rel.Weight(), rel.NewVersion)
		j.publish(outer)
	}
	rel, err := j.r.Functions.Release(ctx, req)
	*s.Release = j.resumedFrom(rel, old, resumed)
	outcome := "released"
	if err != nil {
		outcome = "failed"
	}
	if j.r.ObserveRelease != nil {
		rollback := ""
		if rel.RolledBack {
			rollback = rel.Cause
		}
		j.r.ObserveRelease(time.Since(start), outcome, rollback)
	}
	if err != nil {
		return timedOut(outer, ctx, err)
	}
	s.State = gitops.StepDone
	s.Summary = "released version " + rel.NewVersion
	return nil
}

// resumedFrom keeps the version a resumed release replaced: the alias may already point at the new
// version when the release resumes, and the ledger must still know the one before.
func (j *promotion) resumedFrom(rel gitops.Release, old string, resumed bool) gitops.Release {
	if resumed && old != "" && (rel.OldVersion == "" || rel.OldVersion == rel.NewVersion) {
		rel.OldVersion = old
	}
	return rel
}

// build builds fn at the promoted commit once per promotion, under a terraform slot and the step timeout.
func (j *promotion) build(ctx context.Context, c *change, fn config.Function) (Artifact, error) {
	if a, ok := j.built[fn.Name]; ok {
		return a, nil
	}
	free, err := j.r.slot(ctx, false)
	if err != nil {
		return Artifact{}, fmt.Errorf("wait for a slot to build in: %w", err)
	}
	defer free()
	outer := ctx
	ctx, cancel := j.r.withStepTimeout(ctx)
	defer cancel()
	a, err := j.r.Functions.Build(ctx, c.tree, fn)
	if err != nil {
		return Artifact{}, timedOut(outer, ctx, fmt.Errorf("build %s: %w", fn.Package, err))
	}
	if j.built == nil {
		j.built = map[string]Artifact{}
	}
	j.built[fn.Name] = a
	return a, nil
}

// readSmoke reads the smoke event at rel in tree ("" for none); config.Load checked it is a regular file
// inside the tree.
func readSmoke(tree, rel string) ([]byte, error) {
	if rel == "" {
		return nil, nil
	}
	f, err := os.Open(filepath.Join(tree, rel))
	if err != nil {
		return nil, fmt.Errorf("read the smoke event: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSmoke+1))
	if err != nil {
		return nil, fmt.Errorf("read the smoke event %s: %w", rel, err)
	}
	if len(data) > maxSmoke {
		return nil, fmt.Errorf("the smoke event %s is larger than %d bytes", rel, maxSmoke)
	}
	return data, nil
}

// recordRelease gives the step's release record its outcome, deferred so that it happens whatever ends
// the step and while the function's lock is still held.
func (j *promotion) recordRelease(ctx context.Context, id int64, s *gitops.Step, errp *error) {
	s.Duration = time.Since(s.Started)
	state, text := gitops.RunFailed, ""
	switch {
	case *errp != nil:
		text = (*errp).Error()
	case s.State == gitops.StepDone:
		state = gitops.RunReleased
	default:
		text = "the step stopped before it ended"
	}
	if err := j.r.Releases.FinishRelease(context.WithoutCancel(ctx), id, state, *s.Release, text); err != nil {
		j.log.Error().Err(err).Str("function", s.Function).Str("stage", s.Stage).Msg("record the release's outcome")
	}
	if *errp == nil || retried(ctx, *errp) {
		return
	}
	t := gitops.Trigger{Project: j.req.Project, MR: j.req.MR, Commit: j.req.Commit, Function: s.Function, Stage: s.Stage, Kind: gitops.TriggerRelease, Reason: text}
	if _, err := j.r.Releases.RecordTrigger(context.WithoutCancel(ctx), t); err != nil {
		j.log.Error().Err(err).Str("function", s.Function).Str("stage", s.Stage).Msg("record the failed release as a rollback trigger")
	}
}

package pipeline

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// publish is how a promotion reports: each gitops/apply status that changed since the last publish, then
// the deploy note from the outcome (last, so that a note showing the end comes after every status it
// implies). A failure to post is logged, not fatal: the next publish carries it all. The note's id is
// kept with the outcome, saved again when the note is new.
func (j *promotion) publish(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	if j.r.Releases != nil {
		if err := j.r.Releases.SavePromotion(ctx, j.out); err != nil {
			j.log.Warn().Err(err).Msg("keep the promotion's outcome")
		}
	}
	for _, s := range j.out.Statuses() {
		if j.sent[s.Name] == s {
			continue
		}
		if err := j.r.Reporter.SetStatus(ctx, j.out.Project, j.out.Commit, s); err != nil {
			j.postLog().Err(err).Str("status", s.Name).Msg("set the apply status")
			continue
		}
		j.sent[s.Name] = s
	}
	id, err := j.r.Reporter.PromotionNote(ctx, j.out)
	if err != nil {
		j.postLog().Err(err).Msg("post the deploy note")
		return
	}
	j.posted = true
	if id != 0 && id != j.out.NoteID {
		j.out.NoteID = id
		if j.r.Releases != nil {
			if err := j.r.Releases.SavePromotion(ctx, j.out); err != nil {
				j.log.Warn().Err(err).Msg("keep the promotion's deploy note")
			}
		}
	}
}

// finish is the promotion's one deferred place that settles its outcome before the last publish: a panic
// fails the running step; a cancellation or a transient failure interrupts it (and, on the last attempt,
// is the promotion's error); no step is left running and no status left "running".
func (j *promotion) finish(ctx context.Context, at Attempt, errp *error) {
	now := time.Now()
	if p := recover(); p != nil {
		*errp = fmt.Errorf("promotion panicked: %v", p)
		j.log.Error().Str("stack", string(debug.Stack())).Msg("promotion panicked")
		for i := range j.out.Steps {
			if s := &j.out.Steps[i]; s.State.Running() {
				s.State, s.Error = gitops.StepFailed, "internal error: "+(*errp).Error()
				j.out.SkipWaiting(i+1, "an earlier step failed")
			}
		}
		if !j.anyFailed() {
			j.out.Error = "internal error: " + (*errp).Error()
		}
		at.Last = true // a panic is not transient: report it now
	}
	if j.quiet {
		return
	}
	err := *errp
	if ctx.Err() != nil && err != nil {
		err = ctx.Err()
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		j.out.Interrupt("the agent stopped; the promotion resumes", now)
		*errp = err
		j.log.Info().Msg("promotion interrupted")
	case at.Last || permanent(err):
		at.Last = true // nothing to retry: report it now
		j.out.Interrupt(err.Error(), now)
		if !j.anyFailed() {
			j.out.Error = err.Error()
		}
		j.log.Error().Err(err).Bool("permanent", permanent(err)).Msg("promotion failed")
	default:
		j.out.Interrupt(err.Error(), now)
		j.log.Warn().Err(err).Msg("promotion attempt failed; it will be retried")
	}
	if err != nil && !j.posted && !at.Last {
		return // nothing was shown yet, and the job runs again
	}
	if reason := j.failure(); err == nil && reason != "" {
		j.log.Error().Str("reason", reason).Msg("promotion failed")
	}
	j.final = true
	j.publish(ctx)
	j.log.Info().Interface("steps", j.out.Counts()).Msg("promotion reported")
	if j.rollback != nil && at.Rollback != nil {
		if _, err := at.Rollback(context.WithoutCancel(ctx), *j.rollback); err != nil {
			j.log.Error().Err(err).Msg("queue the rollback")
		}
	}
	if rb := j.revertFailed; rb != nil {
		if err := j.r.saveAndTell(context.WithoutCancel(ctx), *rb); err != nil {
			j.log.Error().Err(err).Msg("tell the reverted merge request that its revert failed")
		}
	}
}

// postLog is where a failure to post goes: a warning while a later publish may carry it, an error on the
// last one, which nothing follows.
func (j *promotion) postLog() *zerolog.Event {
	if j.final {
		return j.log.Error()
	}
	return j.log.Warn()
}

// failure says why a promotion that returned no error failed: its config, its error or the first failed
// step; "" when it did not fail.
func (j *promotion) failure() string {
	switch {
	case j.out.ConfigError != "":
		return "invalid .gitops.yaml: " + j.out.ConfigError
	case j.out.Error != "":
		return j.out.Error
	}
	for _, s := range j.out.Steps {
		if s.State == gitops.StepFailed {
			return fmt.Sprintf("stack %q stage %q: %s", s.Stack, s.Stage, s.Error)
		}
	}
	return ""
}

func (j *promotion) anyFailed() bool {
	for _, s := range j.out.Steps {
		if s.State == gitops.StepFailed {
			return true
		}
	}
	return false
}

package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// defaultAlarmPoll is how often a watch reads its alarms when Runner.AlarmPoll is not set.
const defaultAlarmPoll = 30 * time.Second

// queueWatch queues the watch of step i's alarms for the rest of rollback.watch when the step released a
// new version just now (not one found live already) and the function watches alarms. A failure to queue
// is logged: the release itself stands.
func (j *promotion) queueWatch(ctx context.Context, at Attempt, c *change, stage config.Stage, i int) {
	s := j.out.Steps[i]
	if s.Kind != gitops.StepRelease || s.Release == nil || len(s.Release.Traffic) == 0 || at.Watch == nil ||
		strings.HasPrefix(s.Summary, unchanged) { // another merge's release: its own watch is on it
		return
	}
	fn, _ := c.cfg.Function(s.Function)
	until := s.Release.Traffic[len(s.Release.Traffic)-1].At.Add(c.cfg.Rollback.Watch)
	if len(fn.Alarms) == 0 || !time.Now().Before(until) {
		return
	}
	req := gitops.WatchRequest{
		Project: j.req.Project, MR: j.req.MR, Commit: j.req.Commit, Function: fn.Name, Stage: s.Stage,
		FunctionName: s.Release.FunctionName, Version: s.Release.NewVersion, Alarms: fn.AlarmsFor(s.Stage),
		RoleARN: stage.RoleARN, Until: until,
	}
	if _, err := at.Watch(context.WithoutCancel(ctx), req); err != nil {
		j.log.Error().Err(err).Str("function", fn.Name).Str("stage", s.Stage).Msg("queue the watch after the release")
	}
}

// HandleWatch watches a completed release's alarms until req.Until, or until another release (or a
// rollback) replaces it: every AlarmPoll it reads them (with the stage's role); the first that fires is recorded as a rollback trigger, shown in the deploy note and told
// to the merge request in a reply note, and the watch ends. A failure to read the alarms is logged and the
// watch goes on. Between reads the job waits in the queue (at.Wait), holding no lock and no worker.
func (r *Runner) HandleWatch(ctx context.Context, req gitops.WatchRequest, at Attempt) error {
	log := r.loggerFor(ctx).With().Str("project", req.Project).Int("mr", req.MR).Str("function", req.Function).Str("stage", req.Stage).Logger()
	poll := r.AlarmPoll
	if poll <= 0 {
		poll = defaultAlarmPoll
	}
	for {
		left := time.Until(req.Until)
		if left <= 0 {
			log.Info().Msg("the watch after the release ended quietly")
			return nil
		}
		if live, ok, err := r.Releases.LastRelease(ctx, req.Project, req.Function, req.Stage, ""); err != nil {
			return fmt.Errorf("read the ledger: %w", err)
		} else if !ok || live.Commit != req.Commit {
			log.Info().Msg("the watch after the release ended: another release, or a rollback, replaced it")
			return nil
		}
		env, err := r.watchCredentials(ctx, req)
		if err != nil {
			return fmt.Errorf("assume the deploy role of %s: %w", req.Stage, err)
		}
		alarms, err := r.Functions.Alarms(ctx, req.Alarms, env)
		if err != nil {
			log.Warn().Err(err).Msg("read the alarms watched after the release; watching on")
		} else if slices.ContainsFunc(alarms, gitops.Alarm.Firing) {
			return r.alarmed(ctx, req, alarms, at)
		}
		wait := min(poll, left)
		if at.Wait != nil {
			return at.Wait(wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// credentialReuse is how long a watch reuses the credentials it assumed (they last an hour): it reads the
// alarms every AlarmPoll and need not call STS each time.
const credentialReuse = 10 * time.Minute

// watchCredentials are the stage role's credentials for req's watch, assumed again at most every
// credentialReuse; none when the stage names no role.
func (r *Runner) watchCredentials(ctx context.Context, req gitops.WatchRequest) (map[string]string, error) {
	if req.RoleARN == "" || r.Credentials == nil {
		return nil, nil
	}
	key := req.RoleARN + "|" + req.Project + "|" + strconv.Itoa(req.MR)
	r.watchMu.Lock()
	c, ok := r.watchCreds[key]
	r.watchMu.Unlock()
	if ok && time.Now().Before(c.until) {
		return c.env, nil
	}
	env, err := r.Credentials(ctx, req.RoleARN, req.Project, req.MR)
	if err != nil {
		return nil, err
	}
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if r.watchCreds == nil {
		r.watchCreds = map[string]assumed{}
	}
	for k, old := range r.watchCreds {
		if !time.Now().Before(old.until) {
			delete(r.watchCreds, k)
		}
	}
	r.watchCreds[key] = assumed{env: env, until: time.Now().Add(credentialReuse)}
	return env, nil
}

// assumed is credentials a watch assumed, reused until until.
type assumed struct {
	env   map[string]string
	until time.Time
}

// alarmed records an alarm after req's release as a rollback trigger, shows it in the deploy note and tells
// the merge request, once however often it runs.
func (r *Runner) alarmed(ctx context.Context, req gitops.WatchRequest, alarms []gitops.Alarm, at Attempt) error {
	var firing []gitops.Alarm
	for _, a := range alarms {
		if a.Firing() {
			firing = append(firing, a)
		}
	}
	reason := firingText(firing)
	t, err := r.Releases.RecordTrigger(ctx, gitops.Trigger{
		Project: req.Project, MR: req.MR, Commit: req.Commit, Function: req.Function, Stage: req.Stage,
		Kind: gitops.TriggerAlarm, Reason: reason,
	})
	if err != nil {
		return fmt.Errorf("record the alarm: %w", err)
	}
	p, ok, err := r.Releases.Promotion(ctx, req.Project, req.MR, req.Commit)
	if err != nil {
		return fmt.Errorf("read the promotion: %w", err)
	}
	if ok {
		alert := fmt.Sprintf("%s in %s, version %s, after its release: %s", req.Function, req.Stage, req.Version, reason)
		if !slices.Contains(p.Alerts, alert) {
			p.Alerts = append(p.Alerts, alert)
		}
		for i := range p.Steps {
			if s := &p.Steps[i]; s.Kind == gitops.StepRelease && s.Function == req.Function && s.Stage == req.Stage && s.Release != nil {
				s.Release.Alarms = alarms
			}
		}
		if err := r.Reporter.DeployNote(ctx, p); err != nil {
			return fmt.Errorf("edit the deploy note: %w", err)
		}
		if err := r.Releases.SavePromotion(ctx, p); err != nil {
			return fmt.Errorf("keep the promotion: %w", err)
		}
	}
	if !t.Notified {
		if err := r.Reporter.Alert(ctx, gitops.Alert{
			Project: req.Project, MR: req.MR, Commit: req.Commit, Function: req.Function, Stage: req.Stage,
			FunctionName: req.FunctionName, Version: req.Version, Alarms: firing,
		}); err != nil {
			return fmt.Errorf("tell the merge request: %w", err)
		}
		if err := r.Releases.MarkNotified(ctx, t.ID); err != nil {
			return fmt.Errorf("record the alert: %w", err)
		}
	}
	if at.Rollback != nil {
		if _, err := at.Rollback(ctx, gitops.RollbackRequest{
			Project: req.Project, MR: req.MR, Commit: req.Commit, Trigger: gitops.TriggerAlarm, Stage: req.Stage, Target: req.Function,
			Reason: fmt.Sprintf("an alarm after the release of %s in %s", req.Function, req.Stage),
		}); err != nil {
			return fmt.Errorf("queue the rollback: %w", err)
		}
	}
	return nil
}

// firingText names the firing alarms and their reasons.
func firingText(firing []gitops.Alarm) string {
	parts := make([]string, 0, len(firing))
	for _, a := range firing {
		parts = append(parts, fmt.Sprintf("alarm %s is in ALARM: %s", a.Name, a.Reason))
	}
	return strings.Join(parts, "; ")
}

// Package poller catches events whose webhook was lost: it lists the merge requests of the watched projects
// (those configured and, when Seen is set, every project a webhook came from) updated since its last look and queues the plans (and promotions) they need. The queue's uniqueness makes
// a request for work already done a no-op, so a lost webhook delays a plan, never drops it.
package poller

import (
	"context"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Lister lists a project's merge requests updated at or after since.
type Lister interface {
	UpdatedMergeRequests(ctx context.Context, project string, since time.Time) ([]gitops.MergeRequest, error)
}

// Enqueuer is the durable queue.
type Enqueuer interface {
	EnqueuePlan(ctx context.Context, req gitops.PlanRequest) (gitops.EnqueueOutcome, error)
	EnqueuePromote(ctx context.Context, req gitops.PromoteRequest) (gitops.EnqueueOutcome, error)
}

// Poller polls. Set its fields, then call Run.
type Poller struct {
	Projects []string
	// Seen, when set, is asked at each poll for more projects to watch (those a webhook came from); when
	// it fails, that poll watches Projects only.
	Seen     func(ctx context.Context) ([]string, error)
	Interval time.Duration
	// Lookback is how far back the first poll looks; 0 means 24 hours.
	Lookback time.Duration
	Lister   Lister
	Queue    Enqueuer
	Promote  bool // queue promotions of merged merge requests
	Logger   *zerolog.Logger
	Now      func() time.Time // for tests; nil means time.Now

	since map[string]time.Time
}

// skew widens each look back, for clocks that disagree and updates committed while the last poll ran.
const skew = 2 * time.Minute

// Run polls every Interval until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		p.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll looks at every project once and returns how many requests it queued (duplicates not counted).
func (p *Poller) Poll(ctx context.Context) int {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	log := zerolog.Nop()
	if p.Logger != nil {
		log = *p.Logger
	}
	if p.since == nil {
		p.since = map[string]time.Time{}
	}
	queued := 0
	for _, project := range p.watched(ctx, &log) {
		start := now()
		since, ok := p.since[project]
		if !ok {
			lookback := p.Lookback
			if lookback <= 0 {
				lookback = 24 * time.Hour
			}
			since = start.Add(-lookback)
		}
		mrs, err := p.Lister.UpdatedMergeRequests(ctx, project, since.Add(-skew))
		if err != nil {
			log.Warn().Err(err).Str("project", project).Msg("poll merge requests")
			continue
		}
		failed := false
		for _, mr := range mrs {
			n, err := p.enqueue(ctx, project, mr)
			if err != nil {
				log.Warn().Err(err).Str("project", project).Int("mr", mr.IID).Msg("poll: enqueue")
				failed = true
				continue
			}
			queued += n
		}
		if !failed {
			p.since[project] = start
		}
	}
	if queued > 0 {
		log.Info().Int("queued", queued).Msg("poll queued missed events")
	}
	return queued
}

// watched returns Projects and the projects Seen returns, each once, in that order.
func (p *Poller) watched(ctx context.Context, log *zerolog.Logger) []string {
	if p.Seen == nil {
		return p.Projects
	}
	seen, err := p.Seen(ctx)
	if err != nil {
		log.Warn().Err(err).Msg("poll: read the projects webhooks came from; polling the configured ones only")
		return p.Projects
	}
	out := slices.Clone(p.Projects)
	for _, project := range seen {
		if !slices.Contains(out, project) {
			out = append(out, project)
		}
	}
	return out
}

func (p *Poller) enqueue(ctx context.Context, project string, mr gitops.MergeRequest) (int, error) {
	var outcome gitops.EnqueueOutcome
	var err error
	switch {
	case mr.State == gitops.MergeRequestOpened && mr.HeadSHA != "":
		outcome, err = p.Queue.EnqueuePlan(ctx, gitops.PlanRequest{
			Project: project, ProjectID: mr.ProjectID, MR: mr.IID, HeadSHA: mr.HeadSHA, Trigger: "poll",
		})
	case mr.MergedCommit() != "" && p.Promote:
		outcome, err = p.Queue.EnqueuePromote(ctx, gitops.PromoteRequest{
			Project: project, ProjectID: mr.ProjectID, MR: mr.IID, Commit: mr.MergedCommit(), Trigger: "poll",
		})
	default:
		return 0, nil
	}
	if err != nil || outcome != gitops.Queued {
		return 0, err
	}
	return 1, nil
}

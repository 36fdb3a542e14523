package scale_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

// span is when terraform processes of the agent were first and last seen running.
type span struct{ first, last time.Time }

func (s *span) saw(running bool) {
	if !running {
		return
	}
	now := time.Now()
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
}

// phases splits the agent's time per MR, summed over iterations:
//   - pickup-s: webhook accepted → the gitops/plan status set to running (queue wait, reading the MR);
//   - prep-s: → the first terraform process seen (the archive, .gitops.yaml, the diffs, the default
//     branch's config, the first work dir);
//   - tf-s: → the last terraform process seen (all plans and policy checks);
//   - report-s: → the plan note posted and the final status (rendering, GitLab calls);
//
// and, from the agent's debug log, the time its terraform steps and policy checks took, summed over all
// plans and divided by their number (init-ms/plan, plan-ms/plan, show-ms/plan, policy-ms/plan), and the
// terraform steps per plan (steps/plan; the version check terraform-exec makes before init is not logged);
// init-share is the time init processes ran (one at a time: they hold the init slot) over tf-s, near 1
// when the init slot is what the plans wait for.
type phases struct {
	pickup, prep, tf, report time.Duration
	step                     map[string]time.Duration
	steps, checks            int
	initShare                float64
}

// add adds one MR's phases: it was accepted at began and its final status seen at end; history is every
// state its commit's statuses went through, logs what the agent logged meanwhile.
func (p *phases) add(b *testing.B, began, end time.Time, seen span, history []gitlabfake.Status, logs string) {
	b.Helper()
	var running time.Time
	for _, st := range history {
		if st.Name == "gitops/plan" && st.State == "running" {
			running = st.CreatedAt
			break
		}
	}
	if running.IsZero() || seen.first.IsZero() {
		b.Fatalf("phases: running status at %v, terraform first seen at %v", running, seen.first)
	}
	p.pickup += running.Sub(began)
	p.prep += seen.first.Sub(running)
	p.tf += seen.last.Sub(seen.first)
	p.report += end.Sub(seen.last)
	if p.step == nil {
		p.step = map[string]time.Duration{}
	}
	initBefore := p.step["init"]
	defer func() { p.initShare += float64(p.step["init"]-initBefore) / float64(seen.last.Sub(seen.first)) }()
	for line := range strings.Lines(logs) {
		var e struct {
			Message string  `json:"message"`
			Step    string  `json:"step"`
			Took    float64 `json:"took"` // ms, zerolog's default
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		took := time.Duration(e.Took * float64(time.Millisecond))
		switch e.Message {
		case "terraform step":
			p.step[e.Step] += took
			p.steps++
		case "plan checked":
			p.step["policy"] += took
			p.checks++
		}
	}
}

func (p *phases) reportTo(b *testing.B, k float64) {
	b.ReportMetric(p.pickup.Seconds()/k, "pickup-s")
	b.ReportMetric(p.prep.Seconds()/k, "prep-s")
	b.ReportMetric(p.tf.Seconds()/k, "tf-s")
	b.ReportMetric(p.report.Seconds()/k, "report-s")
	plans := float64(max(p.checks, 1))
	b.ReportMetric(float64(p.steps)/plans, "steps/plan")
	b.ReportMetric(p.initShare/k, "init-share")
	for _, name := range []string{"init", "plan", "show", "policy"} {
		b.ReportMetric(float64(p.step[name].Milliseconds())/plans, name+"-ms/plan")
	}
}

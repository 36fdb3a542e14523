package statuspage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// source is a Source of fixed records, by project; err, when set, fails every read of that project.
type source struct {
	projects []string
	live     map[string][]gitops.Live
	history  map[string][]gitops.Run
	releases map[string][]gitops.ReleaseRun
	drifts   map[string][]gitops.Drift
	notes    map[string]int // deploy note ids by "MR COMMIT"
	err      map[string]error
}

func (s *source) Projects(context.Context) ([]string, error) { return s.projects, nil }

func (s *source) Live(_ context.Context, p string) ([]gitops.Live, error) {
	return s.live[p], s.err[p]
}

func (s *source) History(_ context.Context, p string, limit int) ([]gitops.Run, error) {
	h := s.history[p]
	return h[:min(len(h), limit)], s.err[p]
}

func (s *source) Releases(_ context.Context, p string, limit int) ([]gitops.ReleaseRun, error) {
	r := s.releases[p]
	return r[:min(len(r), limit)], s.err[p]
}

func (s *source) Drifts(_ context.Context, p string) ([]gitops.Drift, error) {
	return s.drifts[p], s.err[p]
}

func (s *source) DeployNote(_ context.Context, p string, mr int, commit string) (int, error) {
	return s.notes[fmt.Sprintf("%d %s", mr, commit)], s.err[p]
}

// Names of the fixture.
const (
	fixtureProject = "platform/documents"
	canaryCommit   = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
	agentSecret    = "glpat-AgentSecretToken123"
	// longMerger merged the stack with the longest name: the grid must hold both without overflowing.
	longMerger = "release-manager-of-the-billing-platform"
	// noNoteMR is the merge request whose promotion has no deploy note known: its cells link the MR.
	noNoteMR = 41
)

var (
	fixtureStages = []string{"prod", "dev", "staging", "qa", "preprod"} // out of order: the page orders them
	fixtureStacks = []string{"network", "dns", "storage", "queue", "api", "auth", "cdn", "monitoring", "search", "billing-and-invoicing-pipeline"}
	fixtureTime   = time.Date(2026, 12, 5, 14, 30, 0, 0, time.UTC)
)

// fixtureMerger is who merged stack i's merge request (!40+i).
func fixtureMerger(i int) string {
	if i == len(fixtureStacks)-1 {
		return longMerger
	}
	return []string{"alice", "bob", "carol"}[i%3]
}

// fixtureNote is the deploy note id of merge request mr's promotion.
func fixtureNote(mr int) int { return 9000 + mr }

// fixture is a project of 10 stacks × 5 stages, all live, each merged by fixtureMerger and with its deploy
// note (fixtureNote) but for !41's; the function api in a canary in prod (v12 at
// 10%), released in the other stages; stack "storage" drifted in prod, "dns" in error in qa, the rest
// clean; a failed apply and a failed release in the history, whose errors name the agent's secret.
func fixture() *source {
	s := &source{
		projects: []string{fixtureProject, "empty/project"},
		live:     map[string][]gitops.Live{}, history: map[string][]gitops.Run{},
		releases: map[string][]gitops.ReleaseRun{}, drifts: map[string][]gitops.Drift{}, notes: map[string]int{},
	}
	p := fixtureProject
	id := int64(100)
	for i, stack := range fixtureStacks {
		for j, stage := range fixtureStages {
			commit := fmt.Sprintf("%02d%02d", i, j) + strings.Repeat("ab", 18)
			at := fixtureTime.Add(-time.Duration(i*5+j) * time.Hour)
			s.live[p] = append(s.live[p], gitops.Live{Stack: stack, Stage: stage, Commit: commit, MR: 40 + i, AppliedAt: at, By: fixtureMerger(i)})
			if 40+i != noNoteMR {
				s.notes[fmt.Sprintf("%d %s", 40+i, commit)] = fixtureNote(40 + i)
			}
			state := gitops.DriftClean
			d := gitops.Drift{Project: p, Stack: stack, Stage: stage, Commit: commit, State: state, CheckedAt: fixtureTime}
			switch {
			case stack == "storage" && stage == "prod":
				d.State, d.Summary, d.Resources = gitops.DriftDrifted, "0 to add, 1 to change, 0 to destroy", []string{"update aws_s3_bucket.objects"}
			case stack == "dns" && stage == "qa":
				d.State, d.Error = gitops.DriftError, "assume the role: AccessDenied"
			}
			s.drifts[p] = append(s.drifts[p], d)
			id--
			finished := at.Add(2 * time.Minute)
			s.history[p] = append(s.history[p], gitops.Run{ID: id, Project: p, MR: 40 + i, Commit: commit, Stack: stack, Stage: stage,
				Kind: gitops.RunApply, State: gitops.RunApplied, Summary: "1 to add, 0 to change, 0 to destroy", StartedAt: at, FinishedAt: &finished,
				By: fixtureMerger(i)})
		}
	}
	failedAt := fixtureTime.Add(-30 * time.Minute)
	s.history[p] = append([]gitops.Run{{ID: 1000, Project: p, MR: 38, Commit: strings.Repeat("de", 20), Stack: "queue", Stage: "staging",
		Kind: gitops.RunApply, State: gitops.RunFailed, Error: "terraform apply failed: token " + agentSecret + " refused", StartedAt: failedAt, FinishedAt: &failedAt}}, s.history[p]...)
	for _, stage := range fixtureStages {
		r := gitops.ReleaseRun{ID: 10, Project: p, MR: 44, Commit: canaryCommit, Function: "api", Stage: stage, State: gitops.RunReleased,
			StartedAt: fixtureTime, Release: gitops.Release{Function: "api", OldVersion: "11", NewVersion: "12",
				Traffic: []gitops.TrafficMove{{Weight: 10, At: fixtureTime}, {Weight: 100, At: fixtureTime}}}}
		if stage == "prod" {
			r.ID, r.State, r.Release.Traffic = 20, gitops.RunReleasing, r.Release.Traffic[:1]
		} else {
			done := fixtureTime.Add(10 * time.Minute)
			r.FinishedAt = &done
		}
		s.releases[p] = append(s.releases[p], r)
	}
	s.releases[p] = append(s.releases[p], gitops.ReleaseRun{ID: 5, Project: p, MR: 39, Commit: strings.Repeat("be", 20), Function: "api",
		Stage: "prod", State: gitops.RunFailed, Error: "alarm api-errors fired", StartedAt: failedAt,
		Release: gitops.Release{OldVersion: "10", NewVersion: "11", RolledBack: true}})
	s.err = map[string]error{"broken/project": errors.New("database gone")}
	return s
}

// fixturePage is the page over fixture, with GitLab links and the agent's secret masked.
func fixturePage(src Source, hub *Hub) *Page {
	return &Page{
		Source:    src,
		Hub:       hub,
		CommitURL: func(project, sha string) string { return "https://gitlab.example.com/" + project + "/-/commit/" + sha },
		MergeRequestURL: func(project string, mr int) string {
			return fmt.Sprintf("https://gitlab.example.com/%s/-/merge_requests/%d", project, mr)
		},
		Mask: maskAgent,
		Now:  func() time.Time { return fixtureTime },
	}
}

func maskAgent(s string) string { return strings.ReplaceAll(s, agentSecret, "[masked]") }

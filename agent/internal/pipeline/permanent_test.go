package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// refused is an adapter's error that trying again cannot cure, as GitLab's 404 is.
type refused struct{ permanent bool }

func (e refused) Error() string   { return "404 Not Found" }
func (e refused) Permanent() bool { return e.permanent }

// sourceErr is a Source that fails with err.
type sourceErr struct{ err error }

func (s sourceErr) Checkout(context.Context, string, string) (string, error) { return "", s.err }

// A permanent failure is reported at the first attempt and returned, still permanent, for the queue to end
// the job; a transient one on an attempt that is not the last reports nothing yet.
func TestPermanentFailureIsReportedAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		reportNow bool
	}{
		{"permanent", refused{permanent: true}, true},
		{"not permanent", refused{permanent: false}, false},
		{"plain error", errors.New("connection refused"), false},
	} {
		t.Run("plan/"+tc.name, func(t *testing.T) {
			r, rep, _ := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, fakeTerraform{}, nil)
			r.MRs = mrs{changed: map[int][]string{3: {"stacks/a/main.tf"}}, state: gitops.MergeRequestOpened, head: sha}
			r.Source = sourceErr{tc.err}
			err := r.HandlePlan(context.Background(), gitops.PlanRequest{Project: "g/p", MR: 3, HeadSHA: sha}, Attempt{})
			if err == nil || permanent(err) != tc.reportNow {
				t.Errorf("HandlePlan = %v (permanent %v), want an error, permanent %v", err, permanent(err), tc.reportNow)
			}
			if got := rep.plan != nil; got != tc.reportNow {
				t.Fatalf("note posted = %v, want %v", got, tc.reportNow)
			}
			if tc.reportNow {
				if !strings.Contains(rep.plan.Error, "fetch the source: 404") || rep.statuses[gitops.PlanStatusName] != gitops.StatusFailed {
					t.Errorf("note error %q, status %s; want the failure shown and the status failed", rep.plan.Error, rep.statuses[gitops.PlanStatusName])
				}
			}
		})
		t.Run("promote/"+tc.name, func(t *testing.T) {
			r, rep, _ := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, fakeTerraform{}, &holder{})
			r.Source = sourceErr{tc.err}
			err := r.HandlePromote(context.Background(), promoteReq, Attempt{})
			if err == nil || permanent(err) != tc.reportNow {
				t.Errorf("HandlePromote = %v (permanent %v), want an error, permanent %v", err, permanent(err), tc.reportNow)
			}
			if got := rep.promotion != nil; got != tc.reportNow {
				t.Fatalf("deploy note posted = %v, want %v", got, tc.reportNow)
			}
			if tc.reportNow && !strings.Contains(rep.promotion.Error, "404") {
				t.Errorf("deploy note error %q does not say what failed", rep.promotion.Error)
			}
			if running := rep.running(); len(running) > 0 {
				t.Errorf("statuses left running: %v", running)
			}
		})
	}
}

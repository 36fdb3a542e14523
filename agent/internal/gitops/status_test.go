package gitops

import "testing"

// TestStatusRetrying: a canceled status that says its job runs again (a plan attempt that will be
// retried, an interrupted promotion) is not an end; any other status is what it says.
func TestStatusRetrying(t *testing.T) {
	for _, tc := range []struct {
		s    Status
		want bool
	}{
		{Status{Name: PlanStatusName, State: StatusCanceled, Description: WillRetry + "fetch the source: 429"}, true},
		{Status{Name: ApplyStatusPrefix + "dev", State: StatusCanceled, Description: "interrupted at a" + Resumes}, true},
		{Status{Name: PlanStatusName, State: StatusCanceled, Description: "interrupted before the plans were done"}, false},
		{Status{Name: ApplyStatusPrefix + "dev", State: StatusCanceled, Description: "skipped"}, false},
		{Status{Name: PlanStatusName, State: StatusFailed, Description: WillRetry + "not canceled"}, false},
		{Status{Name: PlanStatusName, State: StatusRunning, Description: "planning"}, false},
	} {
		if got := tc.s.Retrying(); got != tc.want {
			t.Errorf("%+v: Retrying() = %v, want %v", tc.s, got, tc.want)
		}
	}
}

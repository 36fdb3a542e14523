package gitops

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDriftIssueDescription(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	many := make([]string, maxIssueResources+3)
	for i := range many {
		many[i] = fmt.Sprintf("update terraform_data.r%d", i)
	}
	drifts := []Drift{
		{Stack: "api", Stage: "prod", Commit: "0123456789abcdef", MR: 12, State: DriftDrifted, Summary: "0 to add, 1 to change, 0 to destroy",
			Resources: []string{"update aws_s3_bucket.objects"}, CheckedAt: at},
		{Stack: "api", Stage: "dev", Commit: "0123456789abcdef", State: DriftClean, CheckedAt: at},
		{Stack: "net|work", Stage: "dev", Commit: "fedcba9876543210", State: DriftDrifted, Summary: "many", Resources: many, CheckedAt: at},
		{Stack: "db", Stage: "prod", Commit: "fedcba9876543210", State: DriftError, Error: "terraform init failed\n\n```\nError: backend\n```", CheckedAt: at.Add(-time.Hour)},
	}
	got := DriftIssueDescription(drifts, func(sha string) string { return "https://gitlab.example.com/g/app/-/commit/" + sha })
	for _, want := range []string{
		DriftMarker + "\n",
		"| api | prod | [`01234567`](https://gitlab.example.com/g/app/-/commit/0123456789abcdef) | !12 | 0 to add, 1 to change, 0 to destroy | `update aws_s3_bucket.objects` |",
		"| net\\|work | dev | [`fedcba98`](https://gitlab.example.com/g/app/-/commit/fedcba9876543210) | – | many |",
		"<br>and 3 more |",
		"### Checks that failed",
		"- **db** in **prod** at [`fedcba98`]",
		"  Error: backend",
		"Last checked 2026-03-01 12:30 UTC.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("description lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "| api | dev |") {
		t.Errorf("a clean stack has a row:\n%s", got)
	}
	if n := strings.Count(got, "```"); n != 2 {
		t.Errorf("%d code fences, want the error's own two: an error must not close its block:\n%s", n, got)
	}
	if Drifted(drifts) != 2 || AllClean(drifts) || !AllClean(drifts[1:2]) || AllClean(nil) {
		t.Error("Drifted or AllClean miscount")
	}
	clean := DriftIssueDescription(drifts[1:2], nil)
	if !strings.Contains(clean, "No stack and stage shows drift") || strings.Contains(clean, "| stack |") {
		t.Errorf("description with nothing drifted:\n%s", clean)
	}
}

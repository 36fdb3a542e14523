package policy

import (
	"context"
	"errors"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// FuzzCheck feeds arbitrary bytes to Check with the repository's policies: it must never panic and
// must fail only with ErrInvalidPlan (not a JSON object) or an *Error (a policy that cannot evaluate
// this input, e.g. a malformed IAM document under strict built-in errors). Seeds: testdata/fuzz.
func FuzzCheck(f *testing.F) {
	f.Add(readFixture(f, "plan-dev.json"))
	f.Add([]byte(`{"resource_changes":[{"address":"module.a[0].aws_s3_bucket.b[\"x\"]","module_address":"module.a[0]","mode":"managed","type":"aws_s3_bucket","change":{"actions":["create"],"after":{"bucket":"b","tags_all":{}},"after_unknown":{}}}]}`))
	e := NewEngine(Options{Timeout: 10 * time.Second})
	dirs := []string{repoPolicies(f)}
	pc := gitops.PolicyContext{Stage: "prod", MergeRequest: gitops.MergeRequest{Labels: []string{"x"}}}
	f.Fuzz(func(t *testing.T, plan []byte) {
		findings, err := e.Check(context.Background(), dirs, plan, pc)
		var pe *Error
		switch {
		case err == nil:
			for _, fi := range findings {
				if fi.Severity != gitops.Deny && fi.Severity != gitops.Warn {
					t.Errorf("finding with severity %q", fi.Severity)
				}
			}
		case errors.Is(err, ErrInvalidPlan):
		case errors.As(err, &pe):
			if pe.Msg == "" {
				t.Errorf("policy error without a message: %#v", pe)
			}
		default:
			t.Errorf("untyped error %T: %v", err, err)
		}
	})
}

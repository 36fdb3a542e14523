package ledger

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReviewsKeepTheLastPlanPerStackAndStage(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := b.open(t)
			ctx := context.Background()
			if _, ok, err := l.Review(ctx, "g/app", 4, "api", "prod"); err != nil || ok {
				t.Fatalf("Review before any save = ok %v, err %v; want none", ok, err)
			}
			first := []string{"create aws_s3_bucket.docs", "update aws_lambda_function.api"}
			second := []string{"update aws_lambda_function.api"}
			for _, save := range []struct {
				mr     int
				stage  string
				commit string
				c      []string
			}{
				{4, "prod", "aaaa", first},
				{4, "prod", "bbbb", second}, // a new head commit replaces the review
				{4, "dev", "bbbb", nil},     // no changes
				{5, "prod", "cccc", first},  // another merge request
			} {
				if err := l.SaveReview(ctx, "g/app", save.mr, "api", save.stage, save.commit, save.c); err != nil {
					t.Fatalf("SaveReview: %v", err)
				}
			}
			for _, want := range []struct {
				mr    int
				stage string
				c     []string
			}{{4, "prod", second}, {4, "dev", []string{}}, {5, "prod", first}} {
				got, ok, err := l.Review(ctx, "g/app", want.mr, "api", want.stage)
				if err != nil || !ok {
					t.Fatalf("Review(!%d %s) = ok %v, err %v", want.mr, want.stage, ok, err)
				}
				if diff := cmp.Diff(want.c, got); diff != "" {
					t.Errorf("Review(!%d %s) (-want +got):\n%s", want.mr, want.stage, diff)
				}
			}
			if err := l.SaveReview(ctx, "g/app", 4, "api", "prod", "not-hex", nil); err == nil {
				t.Error("SaveReview accepted a commit that is not a SHA")
			}
		})
	}
}

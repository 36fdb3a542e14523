package ledger

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSeenProjects(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.open(t)
			none, err := l.SeenProjects(ctx)
			if err != nil || none == nil || len(none) != 0 {
				t.Fatalf("SeenProjects of a new ledger = %v, %v; want empty, not nil", none, err)
			}
			for _, p := range []string{"group/web", "group/api", "group/web"} {
				if err := l.SeenProject(ctx, p); err != nil {
					t.Fatalf("SeenProject(%s): %v", p, err)
				}
			}
			for _, bad := range []string{"", strings.Repeat("p", maxName+1)} {
				if err := l.SeenProject(ctx, bad); err == nil {
					t.Errorf("SeenProject(%.10q…) succeeded", bad)
				}
			}
			// A restart, or another replica, reads the same.
			l.Close()
			l = b.open(t)
			got, err := l.SeenProjects(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"group/api", "group/web"}, got); diff != "" {
				t.Errorf("SeenProjects (-want +got):\n%s", diff)
			}
		})
	}
}

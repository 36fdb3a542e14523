package ledger

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestWriteStatus(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	cases := []struct {
		name   string
		live   map[string][]gitops.Live
		golden string
	}{
		{name: "empty", live: nil, golden: "status-empty.golden"},
		{name: "projects with nothing live", live: map[string][]gitops.Live{"g/p": {}}, golden: "status-empty.golden"},
		{name: "two projects", golden: "status.golden", live: map[string][]gitops.Live{
			"zeta/svc": {{Stack: "api", Stage: "dev", Commit: commitB, MR: 12, AppliedAt: at.Add(time.Hour)}},
			"group/app": {
				{Stack: "platform", Stage: "dev", Commit: commitA, MR: 7, AppliedAt: at, By: "alice"},
				{Stack: "platform", Stage: "prod", Commit: "abc", MR: 0, AppliedAt: at.In(time.FixedZone("CET", 3600))},
				{Stack: "evil\x1b[2J\tname", Stage: "dev\u202e", Commit: commitA, MR: 1, AppliedAt: at, By: "eve\x1b[31m"},
			},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteStatus(&buf, c.live); err != nil {
				t.Fatalf("WriteStatus: %v", err)
			}
			golden(t, c.golden, buf.Bytes())
		})
	}
}

// golden compares got with testdata/name, or rewrites the file when -update is set.
func golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestWriteRollbacks(t *testing.T) {
	var b strings.Builder
	if err := WriteRollbacks(&b, nil); err != nil || b.Len() != 0 {
		t.Fatalf("no rollbacks printed %q, %v; want nothing", b.String(), err)
	}
	rbs := map[string][]gitops.Rollback{"g/app": {{Request: gitops.RollbackRequest{MR: 7, Commit: strings.Repeat("b", 40), Reason: "api failed in staging\x1b[2J"}, State: gitops.RollbackMerged, RevertMR: 8}}}
	if err := WriteRollbacks(&b, rbs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ROLLED BACK", "g/app", "!7", "bbbbbbbb", "merged", "!8", "api failed in staging?[2J"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("rollbacks table lacks %q:\n%s", want, b.String())
		}
	}
}

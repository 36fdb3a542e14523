// Package drift_test holds the end-to-end tests of drift detection: `gitops-agent serve` checking what is
// live on a schedule and keeping one issue per project, and the `gitops-agent drift` command, both against
// real terraform state changed behind the agent's back.
package drift_test

import (
	"encoding/json"
	"os"
	"testing"
)

// editState changes a local state file as someone working around the agent would: edit is given each
// resource of the state (its JSON object) and returns false to drop it. The file keeps its serial and
// lineage: terraform reads whatever the file says.
func editState(t testing.TB, file string, edit func(res map[string]any) bool) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state %s: %v", file, err)
	}
	resources, _ := st["resources"].([]any)
	var kept []any
	for _, r := range resources {
		if res, ok := r.(map[string]any); ok && !edit(res) {
			continue
		}
		kept = append(kept, r)
	}
	st["resources"] = kept
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// named reports whether res is the resource TYPE.NAME.
func named(res map[string]any, typ, name string) bool {
	return res["type"] == typ && res["name"] == name
}

// readFile returns the content of file.
func readFile(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile writes content to file.
func writeFile(t testing.TB, file string, content []byte) {
	t.Helper()
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// TestFixturesMatchProviderSchema checks every resource type and attribute of the plan fixtures
// against the hashicorp/aws provider schema the stacks are checked against, so the policies are
// tested on plans the provider could produce.
func TestFixturesMatchProviderSchema(t *testing.T) {
	aws, err := schema.AWS()
	if err != nil {
		t.Fatal(err)
	}
	// The check itself catches a wrong name at the top and in a nested block.
	probe := map[string]any{"bucket": "b", "no_such": 1, "versioning_configuration": []any{map[string]any{"status": "Enabled", "bogus": true}}}
	if got := unknownAttributes(aws, aws.Resources["aws_s3_bucket_versioning"], probe, ""); !slices.Equal(got, []string{"no_such", "versioning_configuration.bogus"}) {
		t.Fatalf("probe: unknown attributes %v", got)
	}
	files, err := filepath.Glob(filepath.Join(repoPolicies(t), "testdata", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	top, _ := filepath.Glob(filepath.Join(repoPolicies(t), "testdata", "*.json"))
	for _, file := range append(top, files...) {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var plan struct {
			ResourceChanges []struct {
				Address, Mode, Type string
				Change              struct{ After, AfterUnknown any } `json:"change"`
			} `json:"resource_changes"`
		}
		if err := json.Unmarshal(raw, &plan); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, rc := range plan.ResourceChanges {
			types := aws.Resources
			if rc.Mode == "data" {
				types = aws.DataSources
			}
			body, ok := types[rc.Type]
			if !ok {
				t.Errorf("%s: %s: the provider has no %s %q", filepath.Base(file), rc.Address, rc.Mode, rc.Type)
				continue
			}
			for _, v := range []any{rc.Change.After, rc.Change.AfterUnknown} {
				for _, bad := range unknownAttributes(aws, body, v, "") {
					t.Errorf("%s: %s: %s is not an attribute of %s", filepath.Base(file), rc.Address, bad, rc.Type)
				}
			}
		}
	}
}

// unknownAttributes lists the paths in v (an after or after_unknown object) that body does not define.
func unknownAttributes(p *schema.Provider, body *schema.Block, v any, prefix string) []string {
	obj, ok := v.(map[string]any)
	if !ok || body == nil {
		return nil
	}
	var bad []string
	for k, val := range obj {
		if _, ok := body.Attributes[k]; ok {
			continue
		}
		nb, ok := body.Blocks[k]
		if !ok {
			bad = append(bad, prefix+k)
			continue
		}
		items, _ := val.([]any)
		for _, item := range items {
			bad = append(bad, unknownAttributes(p, p.Body(nb), item, prefix+k+".")...)
		}
	}
	sort.Strings(bad)
	return bad
}

package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// stackDeclarations is what one stack's HCL declares, read on its own (without the planner of
// stackeval_test.go): its managed resource and data source blocks, and for each block with count
// or for_each the instance addresses its expression gives when the stage's variables alone decide it.
type stackDeclarations struct {
	managed, data map[string]bool // "type.name" / "data.type.name"
	instances     map[string][]string
	unresolved    []string // blocks whose keys depend on more than variables
}

// declaredIn parses stacks/<stack>/*.tf and evaluates count and for_each with the variables of
// stages/<stage>.tfvars and their defaults, and the locals that depend on variables only.
func declaredIn(tb testing.TB, dir, stage string) stackDeclarations {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		tb.Fatal(err)
	}
	parser := hclparse.NewParser()
	var blocks []*hclsyntax.Block
	for _, path := range paths {
		f, diags := parser.ParseHCLFile(path)
		if diags.HasErrors() {
			tb.Fatal(diags)
		}
		blocks = append(blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	tfvars, err := readTFVars(parser, filepath.Join(dir, "stages", stage+".tfvars"))
	if err != nil {
		tb.Fatal(err)
	}
	vars := map[string]cty.Value{}
	localExprs := map[string]hcl.Expression{}
	for _, b := range blocks {
		switch b.Type {
		case "variable":
			v, err := variableValue(b, tfvars)
			if err != nil {
				tb.Fatalf("%s: variable %s: %v", dir, b.Labels[0], err)
			}
			vars[b.Labels[0]] = v
		case "locals":
			for n, a := range b.Body.Attributes {
				localExprs[n] = a.Expr
			}
		}
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}, Functions: terraformFunctions()}
	locals := map[string]cty.Value{}
	for range localExprs { // each round settles locals that use locals settled before
		ctx.Variables["local"] = cty.ObjectVal(locals)
		for n, e := range localExprs {
			if v, diags := e.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
				locals[n] = v
			}
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)

	d := stackDeclarations{managed: map[string]bool{}, data: map[string]bool{}, instances: map[string][]string{}}
	for _, b := range blocks {
		if b.Type != "resource" && b.Type != "data" {
			continue
		}
		addr := b.Labels[0] + "." + b.Labels[1]
		if b.Type == "data" {
			addr = "data." + addr
			d.data[addr] = true
		} else {
			d.managed[addr] = true
		}
		var keys []string
		switch {
		case b.Body.Attributes["count"] != nil:
			v, diags := b.Body.Attributes["count"].Expr.Value(ctx)
			if diags.HasErrors() || !v.IsKnown() {
				d.unresolved = append(d.unresolved, addr)
				continue
			}
			n, _ := v.AsBigFloat().Int64()
			for i := range n {
				keys = append(keys, fmt.Sprintf("%s[%d]", addr, i))
			}
		case b.Body.Attributes["for_each"] != nil:
			v, diags := b.Body.Attributes["for_each"].Expr.Value(ctx)
			if diags.HasErrors() || !v.IsKnown() {
				d.unresolved = append(d.unresolved, addr)
				continue
			}
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				if v.Type().IsSetType() {
					k = e
				}
				keys = append(keys, fmt.Sprintf("%s[%q]", addr, k.AsString()))
			}
		default:
			keys = []string{addr}
		}
		sort.Strings(keys)
		d.instances[addr] = keys
	}
	return d
}

// fixtureAddresses lists a plan fixture's resource changes by stack: the address in the stack's
// module, by mode.
func fixtureAddresses(tb testing.TB, plan []byte) (managed, data map[string][]string) {
	tb.Helper()
	var doc struct {
		ResourceChanges []struct {
			Address       string `json:"address"`
			ModuleAddress string `json:"module_address"`
			Mode          string `json:"mode"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(plan, &doc); err != nil {
		tb.Fatal(err)
	}
	managed, data = map[string][]string{}, map[string][]string{}
	for _, rc := range doc.ResourceChanges {
		stack := strings.TrimPrefix(rc.ModuleAddress, "module.")
		local := strings.TrimPrefix(rc.Address, rc.ModuleAddress+".")
		if rc.Mode == "data" {
			data[stack] = append(data[stack], local)
		} else {
			managed[stack] = append(managed[stack], local)
		}
	}
	return managed, data
}

// withoutKey is an instance address without its instance key.
func withoutKey(addr string) string { return strings.Split(addr, "[")[0] }

// TestFixturesMirrorStacks checks the compliant fixtures against the stacks' HCL: each stage's plan
// holds exactly the stacks that have that stage, every managed resource block of each stack and no
// other, with exactly the instances count and for_each give for the stage's variables; the data
// sources it reads during apply are declared in that stack.
func TestFixturesMirrorStacks(t *testing.T) {
	stacks := filepath.Join(testsvc.RepoRoot(t), "stacks")
	entries, err := os.ReadDir(stacks)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(stacks, e.Name(), "versions.tf")); err == nil {
			all = append(all, e.Name())
		}
	}
	sort.Strings(all)
	resolved, unresolved := 0, 0
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			managed, data := fixtureAddresses(t, readFixture(t, "plan-"+stage+".json"))
			var want []string
			for _, s := range all {
				if _, err := os.Stat(filepath.Join(stacks, s, "stages", stage+".tfvars")); err == nil {
					want = append(want, s)
				}
			}
			if diff := cmp.Diff(want, sortedKeys(managed)); diff != "" {
				t.Errorf("stacks in plan-%s.json (-stacks/ +fixture):\n%s", stage, diff)
			}
			for _, s := range want {
				d := declaredIn(t, filepath.Join(stacks, s), stage)
				byBlock := map[string][]string{}
				for _, a := range managed[s] {
					byBlock[withoutKey(a)] = append(byBlock[withoutKey(a)], a)
				}
				// A block whose count or for_each gives no instance in this stage is absent from the plan.
				declared := map[string]bool{}
				for block := range d.managed {
					if keys, ok := d.instances[block]; !ok || len(keys) > 0 {
						declared[block] = true
					}
				}
				if diff := cmp.Diff(sortedKeys(declared), sortedKeys(byBlock)); diff != "" {
					t.Errorf("%s: managed resources (-HCL +fixture):\n%s", s, diff)
				}
				for block, keys := range d.instances {
					if !d.managed[block] {
						continue
					}
					resolved++
					got := byBlock[block]
					sort.Strings(got)
					if diff := cmp.Diff(keys, got); diff != "" {
						t.Errorf("%s: instances of %s (-HCL and %s.tfvars +fixture):\n%s", s, block, stage, diff)
					}
				}
				for _, block := range d.unresolved {
					if d.managed[block] {
						unresolved++
						if len(byBlock[block]) == 0 {
							t.Errorf("%s: %s has no instance in the fixture", s, block)
						}
					}
				}
				for _, a := range data[s] {
					if !d.data[withoutKey(a)] {
						t.Errorf("%s: the fixture reads %s, which the stack does not declare", s, a)
					}
				}
			}
		})
	}
	t.Logf("%d managed resource blocks with instances checked against the tfvars; %d whose keys depend on resources checked by type and name", resolved, unresolved)
}

// stageVariable reads one variable of a stack for stage: the tfvars value, else the default.
func stageVariable(tb testing.TB, dir, stage, name string) cty.Value {
	tb.Helper()
	parser := hclparse.NewParser()
	tfvars, err := readTFVars(parser, filepath.Join(dir, "stages", stage+".tfvars"))
	if err != nil {
		tb.Fatal(err)
	}
	f, diags := parser.ParseHCLFile(filepath.Join(dir, "variables.tf"))
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type == "variable" && b.Labels[0] == name {
			v, err := variableValue(b, tfvars)
			if err != nil {
				tb.Fatal(err)
			}
			return v
		}
	}
	tb.Fatalf("%s declares no variable %q", dir, name)
	return cty.NilVal
}

// TestFixturesCarryStageValues checks that each stage's fixture carries what that stage's tfvars
// set on the resources the policies judge, and the provider's default_tags of the right stack.
func TestFixturesCarryStageValues(t *testing.T) {
	stacks := filepath.Join(testsvc.RepoRoot(t), "stacks")
	type want struct {
		stack, variable, address, attr string
		transform                      func(stage string, v cty.Value) any // nil: the variable's value as is
	}
	atLeastTwo := func(_ string, v cty.Value) any { n, _ := v.AsBigFloat().Int64(); return n >= 2 }
	orProd := func(stage string, v cty.Value) any { return v.True() || stage == "prod" }
	cases := []want{
		{"network", "vpc_cidr", "aws_vpc.this", "cidr_block", nil},
		{"network", "flow_log_retention_days", "aws_cloudwatch_log_group.flow_logs", "retention_in_days", nil},
		{"data", "deletion_protection", "aws_rds_cluster.this", "deletion_protection", orProd},
		{"data", "db_backup_retention_days", "aws_rds_cluster.this", "backup_retention_period", nil},
		{"data", "db_engine_version", "aws_rds_cluster.this", "engine_version", nil},
		{"data", "cache_node_count", "aws_elasticache_replication_group.this", "num_cache_clusters", nil},
		{"data", "cache_node_count", "aws_elasticache_replication_group.this", "automatic_failover_enabled", atLeastTwo},
		{"data", "cache_node_count", "aws_elasticache_replication_group.this", "multi_az_enabled", atLeastTwo},
		{"data", "cache_node_type", "aws_elasticache_replication_group.this", "node_type", nil},
		{"api", "log_retention_days", "aws_cloudwatch_log_group.lambda", "retention_in_days", nil},
		{"api", "lambda_reserved_concurrency", "aws_lambda_function.api", "reserved_concurrent_executions", nil},
	}
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			var plan struct {
				ResourceChanges []struct {
					Address       string `json:"address"`
					ModuleAddress string `json:"module_address"`
					Mode          string `json:"mode"`
					Change        struct {
						After map[string]any `json:"after"`
					} `json:"change"`
				} `json:"resource_changes"`
			}
			if err := json.Unmarshal(readFixture(t, "plan-"+stage+".json"), &plan); err != nil {
				t.Fatal(err)
			}
			after := map[string]map[string]any{}
			for _, rc := range plan.ResourceChanges {
				after[rc.Address] = rc.Change.After
				tags, ok := rc.Change.After["tags_all"].(map[string]any)
				if rc.Mode != "managed" || !ok {
					continue
				}
				stack := strings.TrimPrefix(rc.ModuleAddress, "module.")
				for k, v := range map[string]string{"Stack": stack, "Stage": stage, "Project": "gitops-agent", "ManagedBy": "gitops-agent"} {
					if tags[k] != v {
						t.Errorf("%s: tags_all[%s] = %v, want %q", rc.Address, k, tags[k], v)
					}
				}
			}
			for _, c := range cases {
				v := stageVariable(t, filepath.Join(stacks, c.stack), stage, c.variable)
				var wantValue any = jsonValue(v)
				if c.transform != nil {
					wantValue = c.transform(stage, v)
				}
				address := "module." + c.stack + "." + c.address
				obj, ok := after[address]
				if !ok {
					t.Errorf("no %s in plan-%s.json", address, stage)
					continue
				}
				// Compare as JSON: the fixture's numbers decode as float64.
				w, _ := json.Marshal(wantValue)
				g, _ := json.Marshal(obj[c.attr])
				if string(w) != string(g) {
					t.Errorf("%s.%s = %s, want %s (var.%s in stages/%s.tfvars)", address, c.attr, g, w, c.variable, stage)
				}
			}
		})
	}
}

package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseArchitectureExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/seeds/architecture.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	all := []string{"dev", "staging", "prod"}
	want := &Config{
		Version: 1,
		Stages: []Stage{
			{Name: "dev"},
			{Name: "staging"},
			{Name: "prod", RoleARN: "arn:aws:iam::123456789012:role/gitops-deploy", PlanRoleARN: "arn:aws:iam::123456789012:role/gitops-plan-prod"},
		},
		Policies: []string{"policies"},
		Stacks: []Stack{
			{
				Name:          "platform",
				Dir:           "stacks/platform",
				VarFiles:      []string{"stages/{stage}.tfvars"},
				BackendConfig: []string{"stages/{stage}.backend.hcl"},
				Workspace:     "default",
				WhenModified:  []string{"**/*.tf", "**/*.tfvars"},
				Stages:        all,
			},
			{
				Name:         "api",
				Dir:          "stacks/api",
				Workspace:    "default",
				WhenModified: DefaultWhenModified,
				Stages:       all,
				DependsOn:    []string{"platform"},
			},
		},
		Functions: []Function{{
			Name:         "documents",
			Package:      "lambda",
			FunctionName: "documents-api-{stage}",
			Alias:        "live",
			Architecture: "arm64",
			After:        []string{"api"},
			Strategy:     "Canary10Percent5Minutes",
			Alarms:       []string{"documents-api-{stage}-*"},
			Smoke:        "lambda/testdata/smoke.json",
			Stages:       all,
		}},
		Rollback: Rollback{AutoMerge: false, Watch: 15 * time.Minute},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestParseNormalizes(t *testing.T) {
	t.Parallel()
	got, err := Parse([]byte(`
version: 1
stages: [{name: dev}, {name: prod}]
stacks:
  - name: root
    dir: ./
    stages: [prod, dev]
    workspace: "{stage}-ws"
    var_files: ["shared/{stage}.tfvars"]
    backend_config: ["bucket=state-{stage}", "key=root"]
    when_modified: []
  - name: nested
    dir: stacks//nested/
    var_files: ["../../shared/{stage}.tfvars"]
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	root, nested := got.Stacks[0], got.Stacks[1]
	type view struct {
		Dir, Workspace string
		Stages         []string
		VarFiles       []string
		Backend        []string
		WhenModified   []string
		RunsInStaging  bool
	}
	gotViews := []view{
		{root.Dir, root.WorkspaceFor("prod"), root.Stages, root.VarFilesFor("prod"), root.BackendConfigFor("prod"), root.WhenModified, root.RunsIn("staging")},
		{nested.Dir, nested.WorkspaceFor("dev"), nested.Stages, nested.VarFilesFor("dev"), nested.BackendConfigFor("dev"), nested.WhenModified, nested.RunsIn("dev")},
	}
	wantViews := []view{
		{".", "prod-ws", []string{"dev", "prod"}, []string{"shared/prod.tfvars"}, []string{"bucket=state-prod", "key=root"}, []string{}, false},
		{"stacks/nested", "default", []string{"dev", "prod"}, []string{"../../shared/dev.tfvars"}, nil, DefaultWhenModified, true},
	}
	if diff := cmp.Diff(wantViews, gotViews); diff != "" {
		t.Errorf("stacks (-want +got):\n%s", diff)
	}
	if st, ok := got.Stage("prod"); !ok || st.Name != "prod" {
		t.Errorf("Stage(prod) = %+v, %v", st, ok)
	}
	if _, ok := got.Stage("qa"); ok {
		t.Error("Stage(qa) found a stage that does not exist")
	}
}

// valid is a minimal valid head that error cases extend.
const valid = "version: 1\nstages:\n  - name: dev\n  - name: prod\n"

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // the error's full text
	}{
		{"empty file", "", ".gitops.yaml: is empty"},
		{"only a comment", "# nothing\n", ".gitops.yaml: is empty"},
		{"not a mapping", "- a\n- b\n", ".gitops.yaml:1:1: the file must be a mapping with the keys version, stages and stacks, not a list"},
		{"syntax error", "version: 1\nstages: [\n", ".gitops.yaml:2: invalid YAML: did not find expected node content"},
		{"tab indentation", "version: 1\n\tstages: []\n", ".gitops.yaml:2: invalid YAML: found a tab character that violates indentation"},
		{"two documents", valid + "---\nversion: 1\n", ".gitops.yaml:5:1: holds more than one YAML document; keep only one"},
		{"missing version", "stages: [{name: dev}]\n", ".gitops.yaml:1:1: version is missing: add \"version: 1\""},
		{"version 2", "version: 2\nstages: [{name: dev}]\n", ".gitops.yaml:1:10: version 2 is not supported: this agent reads version 1"},
		{"version as string", "version: \"1\"\nstages: [{name: dev}]\n", ".gitops.yaml:1:10: version must be 1, not a string (1)"},
		{"unknown top-level key with suggestion", valid + "stack: []\n", ".gitops.yaml:5:1: unknown key \"stack\" (did you mean \"stacks\"?)"},
		{"unknown key far from any", valid + "kubernetes: true\n", ".gitops.yaml:5:1: unknown key \"kubernetes\""},
		{"key set twice", valid + "policies: [a]\npolicies: [b]\n", ".gitops.yaml:6:1: policies is set twice (first on line 5)"},
		{"no stages", "version: 1\nstages: []\n", ".gitops.yaml:1:1: stages is missing or empty: name at least one stage"},
		{"stages not a list", "version: 1\nstages: dev\n", ".gitops.yaml:2:9: stages must be a list, not a string"},
		{"stage as plain string", "version: 1\nstages: [dev]\n", ".gitops.yaml:2:10: a stage must be a mapping like {name: dev}, not a string"},
		{"stage without name", "version: 1\nstages:\n  - role_arn: arn:aws:iam::123456789012:role/x\n", ".gitops.yaml:3:5: stage: name is missing"},
		{"stage unknown key", "version: 1\nstages:\n  - name: dev\n    rolearn: x\n", ".gitops.yaml:4:5: stage: unknown key \"rolearn\" (did you mean \"role_arn\"?)"},
		{"stage name syntax", "version: 1\nstages:\n  - name: Dev\n", ".gitops.yaml:3:11: stage name \"Dev\": use " + nameRule},
		{"stage name number", "version: 1\nstages:\n  - name: 1\n", ".gitops.yaml:3:11: stage name must be a string, not a number (1)"},
		{"stage twice", valid + "  - name: dev\n", ".gitops.yaml:5:11: stage \"dev\" is defined twice (first on line 3)"},
		{"bad role arn", "version: 1\nstages:\n  - name: dev\n    role_arn: arn:aws:iam::12345:role/x\n", ".gitops.yaml:4:15: stage \"dev\": role_arn \"arn:aws:iam::12345:role/x\" is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME"},
		{"stage url not absolute", "version: 1\nstages:\n  - name: dev\n    url: api.dev.example.com\n", ".gitops.yaml:4:10: stage url \"api.dev.example.com\" must be an absolute http(s) URL without credentials, like https://api.dev.example.com"},
		{"stage url with credentials", "version: 1\nstages:\n  - name: dev\n    url: https://u:p@api.example.com\n", ".gitops.yaml:4:10: stage url \"https://u:p@api.example.com\" must be an absolute http(s) URL without credentials, like https://api.dev.example.com"},
		{"bad plan role arn", "version: 1\nstages:\n  - name: dev\n    plan_role_arn: arn:aws:iam::1:role/x\n", ".gitops.yaml:4:20: stage \"dev\": plan_role_arn \"arn:aws:iam::1:role/x\" is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME"},
		{"user arn, not role", "version: 1\nstages:\n  - name: dev\n    role_arn: arn:aws:iam::123456789012:user/x\n", ".gitops.yaml:4:15: stage \"dev\": role_arn \"arn:aws:iam::123456789012:user/x\" is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME"},
		{"policy dir escaping", valid + "policies: [../policies]\n", ".gitops.yaml:5:12: policies: \"../policies\" must be a directory inside the repository, relative to its root"},
		{"policy dir absolute", valid + "policies: [/etc]\n", ".gitops.yaml:5:12: policies: \"/etc\" must be a directory inside the repository, relative to its root"},
		{"policies entry not a string", valid + "policies: [[a]]\n", ".gitops.yaml:5:12: policies entry must be a string, not a list"},
		{"stack without name and dir", valid + "stacks:\n  - workspace: x\n", ".gitops.yaml:6:5: stack: name is missing\n.gitops.yaml:6:5: stack: dir is missing"},
		{"stack unknown key", valid + "stacks:\n  - name: a\n    dir: a\n    depend_on: [b]\n", ".gitops.yaml:8:5: stack: unknown key \"depend_on\" (did you mean \"depends_on\"?)"},
		{"stack name syntax", valid + "stacks:\n  - name: my_App\n    dir: a\n", ".gitops.yaml:6:11: stack name \"my_App\": use " + nameRule},
		{"stack twice", valid + "stacks:\n  - {name: a, dir: a}\n  - {name: a, dir: b}\n", ".gitops.yaml:7:12: stack \"a\" is defined twice (first on line 6)"},
		{"dir absolute", valid + "stacks:\n  - {name: a, dir: /srv/a}\n", ".gitops.yaml:6:20: stack \"a\": dir \"/srv/a\" must be a directory inside the repository, relative to its root, without {stage}"},
		{"dir escaping", valid + "stacks:\n  - {name: a, dir: stacks/../../a}\n", ".gitops.yaml:6:20: stack \"a\": dir \"stacks/../../a\" must be a directory inside the repository, relative to its root, without {stage}"},
		{"dir with placeholder", valid + "stacks:\n  - {name: a, dir: \"stacks/{stage}\"}\n", ".gitops.yaml:6:20: stack \"a\": dir \"stacks/{stage}\" must be a directory inside the repository, relative to its root, without {stage}"},
		{"var file unknown placeholder", valid + "stacks:\n  - {name: a, dir: a, var_files: [\"{env}.tfvars\"]}\n", ".gitops.yaml:6:35: stack \"a\": var_files \"{env}.tfvars\": {stage} is the only placeholder"},
		{"var file escaping", valid + "stacks:\n  - {name: a, dir: a, var_files: [../../x.tfvars]}\n", ".gitops.yaml:6:35: stack \"a\": var_files \"../../x.tfvars\" must be a path relative to the stack dir that stays inside the repository"},
		{"var file absolute", valid + "stacks:\n  - {name: a, dir: a, var_files: [/etc/x.tfvars]}\n", ".gitops.yaml:6:35: stack \"a\": var_files \"/etc/x.tfvars\" must be a path relative to the stack dir that stays inside the repository"},
		{"backend config placeholder typo", valid + "stacks:\n  - {name: a, dir: a, backend_config: [\"password={secret}\"]}\n", ".gitops.yaml:6:40: stack \"a\": backend_config \"password=…\": {stage} is the only placeholder"},
		{"backend config file placeholder typo", valid + "stacks:\n  - {name: a, dir: a, backend_config: [\"{env}.hcl\"]}\n", ".gitops.yaml:6:40: stack \"a\": backend_config \"{env}.hcl\": {stage} is the only placeholder"},
		{"var_files not a list", valid + "stacks:\n  - {name: a, dir: a, var_files: x.tfvars}\n", ".gitops.yaml:6:34: var_files must be a list, not a string"},
		{"workspace with slash", valid + "stacks:\n  - {name: a, dir: a, workspace: a/b}\n", ".gitops.yaml:6:34: stack \"a\": workspace \"a/b\": use letters, digits, '-', '_', '.' and {stage}"},
		{"glob invalid", valid + "stacks:\n  - {name: a, dir: a, when_modified: [\"[a-\"]}\n", ".gitops.yaml:6:39: stack \"a\": when_modified \"[a-\" is not a valid glob"},
		{"glob absolute", valid + "stacks:\n  - {name: a, dir: a, when_modified: [/a/**]}\n", ".gitops.yaml:6:39: stack \"a\": when_modified \"/a/**\" must be relative to the stack dir"},
		{"glob climbing out", valid + "stacks:\n  - {name: a, dir: a, when_modified: [../../**]}\n", ".gitops.yaml:6:39: stack \"a\": when_modified \"../../**\" leads outside the repository"},
		{"glob with inner dot-dot", valid + "stacks:\n  - {name: a, dir: a, when_modified: [x/../**]}\n", ".gitops.yaml:6:39: stack \"a\": when_modified \"x/../**\" may use \"..\" only at its start"},
		{"glob with placeholder", valid + "stacks:\n  - {name: a, dir: a, when_modified: [\"{stage}/**\"]}\n", ".gitops.yaml:6:39: stack \"a\": when_modified \"{stage}/**\" cannot use {stage}: stages share one tree"},
		{"unknown stage in stack", valid + "stacks:\n  - {name: a, dir: a, stages: [dev, prdo]}\n", ".gitops.yaml:6:37: stack \"a\": stages names unknown stage \"prdo\" (did you mean \"prod\"?)"},
		{"stack stages empty", valid + "stacks:\n  - {name: a, dir: a, stages: []}\n", ".gitops.yaml:6:31: stack \"a\": stages is empty: leave it out to run in every stage"},
		{"stage listed twice in stack", valid + "stacks:\n  - {name: a, dir: a, stages: [dev, dev]}\n", ".gitops.yaml:6:37: stack \"a\": stages lists \"dev\" twice"},
		{"depends on unknown stack", valid + "stacks:\n  - name: platform\n    dir: p\n  - name: api\n    dir: a\n    depends_on: [platfrom]\n", ".gitops.yaml:10:18: stack \"api\": depends_on names unknown stack \"platfrom\" (did you mean \"platform\"?)"},
		{"depends on itself", valid + "stacks:\n  - {name: a, dir: a, depends_on: [a]}\n", ".gitops.yaml:6:36: stack \"a\": depends_on names the stack itself"},
		{"depends on twice", valid + "stacks:\n  - {name: a, dir: a}\n  - {name: b, dir: b, depends_on: [a, a]}\n", ".gitops.yaml:7:39: stack \"b\": depends_on lists \"a\" twice"},
		{"two-stack cycle", valid + "stacks:\n  - {name: a, dir: a, depends_on: [b]}\n  - {name: b, dir: b, depends_on: [a]}\n", ".gitops.yaml:7:36: stack \"b\": depends_on forms a cycle: a → b → a"},
		{"three-stack cycle behind a chain", valid + "stacks:\n  - {name: x, dir: x, depends_on: [a]}\n  - {name: a, dir: a, depends_on: [b]}\n  - {name: b, dir: b, depends_on: [c]}\n  - {name: c, dir: c, depends_on: [a]}\n", ".gitops.yaml:9:36: stack \"c\": depends_on forms a cycle: a → b → c → a"},
		{"alias", valid + "stacks:\n  - &s {name: a, dir: a}\n  - *s\n", ".gitops.yaml:7:5: aliases (*s) are not supported: write the value out"},
		{"merge key", valid + "stacks:\n  - &s {name: a, dir: a}\n  - <<: *s\n    name: b\n", ".gitops.yaml:7:9: aliases (*s) are not supported: write the value out"},
		{"null value", valid + "stacks:\n  - name: a\n    dir:\n", ".gitops.yaml:7:9: dir must be a string, not empty"},
		{
			"several problems at once, in file order",
			"version: 1\nstages:\n  - name: dev\n    role_arn: nope\nstacks:\n  - {name: a, dir: /a, stages: [qa]}\n  - {name: b, dir: b, depends_on: [zzz]}\n",
			".gitops.yaml:4:15: stage \"dev\": role_arn \"nope\" is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME\n" +
				".gitops.yaml:6:20: stack \"a\": dir \"/a\" must be a directory inside the repository, relative to its root, without {stage}\n" +
				".gitops.yaml:6:33: stack \"a\": stages names unknown stage \"qa\"\n" +
				".gitops.yaml:7:36: stack \"b\": depends_on names unknown stack \"zzz\"",
		},
		{"too many stages", "version: 1\nstages: [" + strings.Repeat("{name: s}, ", MaxStages) + "{name: s}]\n", ".gitops.yaml:2:9: stages lists 51 stages; at most 50 are supported"},
		{"too many stacks", valid + "stacks: [" + strings.Repeat("{}, ", MaxStacks) + "{}]\n", ".gitops.yaml:5:9: stacks lists 5001 stacks; at most 5000 are supported"},
		{"over the size limit", valid + "# " + strings.Repeat("x", MaxSize) + "\n", ".gitops.yaml: is larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with its error: %+v", cfg)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			var one *Error
			if !errors.As(err, &one) || one.File != FileName {
				t.Errorf("errors.As(*Error) = %v, file %q", one, FileName)
			}
		})
	}
}

func TestAliasBombIsRejectedQuickly(t *testing.T) {
	t.Parallel()
	// The classic "billion laughs": nine levels of nine aliases each.
	var b strings.Builder
	b.WriteString(valid + "policies: &a0 [x]\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("l")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(": &a")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(" [")
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a")
			b.WriteString(string(rune('0' + i - 1)))
		}
		b.WriteString("]\n")
	}
	_, err := Parse([]byte(b.String()))
	var es Errors
	if !errors.As(err, &es) || len(es) != maxProblems+1 {
		t.Fatalf("Parse error = %v, want %d alias errors and a line saying more are not shown", err, maxProblems)
	}
	if !strings.HasPrefix(es[0].Msg, "aliases (*a0) are not supported") {
		t.Errorf("first error = %q", es[0].Msg)
	}
}

func TestParseStopsAfterManyProblems(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(valid + "stacks:\n  - name: a\n    dir: a\n    depends_on:\n")
	for i := range 1000 {
		b.WriteString("      - missing-" + strings.Repeat("x", i%50) + "\n")
	}
	_, err := Parse([]byte(b.String()))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Parse error = %v, want Errors", err)
	}
	if len(es) != maxProblems+1 {
		t.Errorf("got %d errors, want %d and a last line saying more are not shown", len(es), maxProblems+1)
	}
	if got, want := es[len(es)-1].Error(), ".gitops.yaml: more problems after these 50 are not shown"; got != want {
		t.Errorf("last error = %q, want %q", got, want)
	}
}

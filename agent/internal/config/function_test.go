package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// withStacks is a valid head with stacks that functions can come after.
const withStacks = valid + "stacks:\n  - {name: network, dir: n}\n  - {name: api, dir: a}\n"

func TestParseFunctions(t *testing.T) {
	t.Parallel()
	got, err := Parse([]byte(withStacks + `functions:
  - name: documents
    package: ./lambda/
    function_name: documents-api-{stage}
    alias: Live_2
    architecture: x86_64
    after: [api, network]
    strategy: Linear25PercentEvery2Minutes
    alarms: ["documents-api-{stage}-*", "platform-{stage}-errors"]
    smoke: ./lambda//testdata/smoke.json
    stages: [prod, dev]
  - name: worker
    package: .
    function_name: worker
    steps:
      - {weight: 5, bake: 90s}
      - {weight: 50, bake: 1h}
    stages: [prod]
  - name: defaults
    package: cmd/defaults
    function_name: defaults-{stage}
rollback:
  auto_merge: true
  watch: 1h30m
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	all := []string{"dev", "prod"}
	want := []Function{
		{
			Name:         "documents",
			Package:      "lambda",
			FunctionName: "documents-api-{stage}",
			Alias:        "Live_2",
			Architecture: "x86_64",
			After:        []string{"api", "network"},
			Strategy:     "Linear25PercentEvery2Minutes",
			Alarms:       []string{"documents-api-{stage}-*", "platform-{stage}-errors"},
			Smoke:        "lambda/testdata/smoke.json",
			Stages:       all,
		},
		{
			Name:         "worker",
			Package:      ".",
			FunctionName: "worker",
			Alias:        "live",
			Architecture: "arm64",
			Steps:        []TrafficStep{{5, 90 * time.Second}, {50, time.Hour}},
			Stages:       []string{"prod"},
		},
		{
			Name:         "defaults",
			Package:      "cmd/defaults",
			FunctionName: "defaults-{stage}",
			Alias:        DefaultAlias,
			Architecture: DefaultArchitecture,
			Strategy:     DefaultStrategy,
			Stages:       all,
		},
	}
	if diff := cmp.Diff(want, got.Functions); diff != "" {
		t.Errorf("Functions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Rollback{AutoMerge: true, Watch: 90 * time.Minute}, got.Rollback); diff != "" {
		t.Errorf("Rollback (-want +got):\n%s", diff)
	}

	docs, worker := got.Functions[0], got.Functions[1]
	type view struct {
		Name, GOARCH  string
		Alarms        []string
		Plan          []TrafficStep
		RunsInDev     bool
		FoundByConfig bool
	}
	_, found := got.Function("worker")
	_, notFound := got.Function("api")
	gotViews := []view{
		{docs.FunctionNameFor("prod"), docs.GOARCH(), docs.AlarmsFor("prod"), docs.Plan(), docs.RunsIn("dev"), !notFound},
		{worker.FunctionNameFor("prod"), worker.GOARCH(), worker.AlarmsFor("prod"), worker.Plan(), worker.RunsIn("dev"), found},
	}
	wantViews := []view{
		{"documents-api-prod", "amd64", []string{"documents-api-prod-*", "platform-prod-errors"},
			[]TrafficStep{{25, 2 * time.Minute}, {50, 2 * time.Minute}, {75, 2 * time.Minute}}, true, true},
		{"worker", "arm64", nil, []TrafficStep{{5, 90 * time.Second}, {50, time.Hour}}, false, true},
	}
	if diff := cmp.Diff(wantViews, gotViews); diff != "" {
		t.Errorf("function views (-want +got):\n%s", diff)
	}
	plan := worker.Plan()
	plan[0].Weight = 99
	if worker.Steps[0].Weight != 5 {
		t.Error("Plan returned the function's own Steps slice, not a copy")
	}
}

func TestParseRollbackDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Rollback
	}{
		{"no rollback key", valid, Rollback{Watch: 15 * time.Minute}},
		{"empty mapping", valid + "rollback: {}\n", Rollback{Watch: DefaultWatch}},
		{"auto merge only", valid + "rollback: {auto_merge: true}\n", Rollback{AutoMerge: true, Watch: DefaultWatch}},
		{"watch zero as a number", valid + "rollback: {watch: 0}\n", Rollback{}},
		{"watch zero as a duration", valid + "rollback: {watch: 0s}\n", Rollback{}},
		{"watch in seconds", valid + "rollback: {watch: 45s}\n", Rollback{Watch: 45 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got.Rollback); diff != "" {
				t.Errorf("Rollback (-want +got):\n%s", diff)
			}
			if got.Functions != nil {
				t.Errorf("Functions = %+v, want nil", got.Functions)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	linear := func(step int, bake time.Duration) []TrafficStep {
		var out []TrafficStep
		for w := step; w < 100; w += step {
			out = append(out, TrafficStep{w, bake})
		}
		return out
	}
	tests := []struct {
		strategy string
		want     []TrafficStep
	}{
		{"AllAtOnce", []TrafficStep{}},
		{"Canary10Percent5Minutes", []TrafficStep{{10, 5 * time.Minute}}},
		{"Canary10Percent10Minutes", []TrafficStep{{10, 10 * time.Minute}}},
		{"Canary10Percent15Minutes", []TrafficStep{{10, 15 * time.Minute}}},
		{"Canary10Percent30Minutes", []TrafficStep{{10, 30 * time.Minute}}},
		{"Canary1Percent1Minute", []TrafficStep{{1, time.Minute}}},
		{"Canary99Percent1440Minutes", []TrafficStep{{99, 24 * time.Hour}}},
		{"Linear10PercentEvery1Minute", linear(10, time.Minute)},
		{"Linear10PercentEvery2Minutes", linear(10, 2*time.Minute)},
		{"Linear10PercentEvery3Minutes", linear(10, 3*time.Minute)},
		{"Linear10PercentEvery10Minutes", linear(10, 10*time.Minute)},
		{"Linear30PercentEvery5Minutes", []TrafficStep{{30, 5 * time.Minute}, {60, 5 * time.Minute}, {90, 5 * time.Minute}}},
		{"Linear50PercentEvery1Minute", []TrafficStep{{50, time.Minute}}},
		{"Linear99PercentEvery1Minute", []TrafficStep{{99, time.Minute}}},
		{"Linear1PercentEvery1Minute", linear(1, time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse([]byte(valid + "functions:\n  - {name: f, package: f, function_name: f, strategy: " + tt.strategy + "}\n"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, cfg.Functions[0].Plan()); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFunctionErrors(t *testing.T) {
	t.Parallel()
	fn := func(fields string) string {
		return withStacks + "functions:\n  - {name: f, package: f, function_name: \"f-{stage}\", " + fields + "}\n"
	}
	const line = ".gitops.yaml:9:"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"functions not a list", valid + "functions: {name: f}\n", ".gitops.yaml:5:12: functions must be a list, not a mapping"},
		{"function as a string", valid + "functions: [f]\n", ".gitops.yaml:5:13: a function must be a mapping with at least name, package and function_name, not a string"},
		{"unknown key", valid + "functions:\n  - {name: f, package: f, function_name: f, aliases: live}\n", ".gitops.yaml:6:45: function: unknown key \"aliases\" (did you mean \"alias\"?)"},
		{"key set twice", valid + "functions:\n  - {name: f, package: f, function_name: f, package: g}\n", ".gitops.yaml:6:45: function: package is set twice (first on line 6)"},
		{"everything missing", valid + "functions:\n  - {alias: live}\n", ".gitops.yaml:6:5: function: name is missing\n.gitops.yaml:6:5: function: package is missing\n.gitops.yaml:6:5: function: function_name is missing"},
		{"name syntax", valid + "functions:\n  - {name: Docs, package: f, function_name: f}\n", ".gitops.yaml:6:12: function name \"Docs\": use " + nameRule},
		{"name twice", valid + "functions:\n  - {name: f, package: f, function_name: f}\n  - {name: f, package: g, function_name: g}\n", ".gitops.yaml:7:12: function \"f\" is defined twice (first on line 6)"},
		{"name of a stack", withStacks + "functions:\n  - {name: api, package: f, function_name: f}\n", ".gitops.yaml:9:12: function \"api\": the stack on line 7 has that name; functions and stacks need different names"},
		{"package escaping", withStacks + "functions:\n  - {name: f, package: ../f, function_name: f}\n", line + "24: function \"f\": package \"../f\" must be a directory inside the repository, relative to its root, without {stage}"},
		{"package absolute", withStacks + "functions:\n  - {name: f, package: /f, function_name: f}\n", line + "24: function \"f\": package \"/f\" must be a directory inside the repository, relative to its root, without {stage}"},
		{"package with placeholder", withStacks + "functions:\n  - {name: f, package: \"cmd/{stage}\", function_name: f}\n", line + "24: function \"f\": package \"cmd/{stage}\" must be a directory inside the repository, relative to its root, without {stage}"},
		{"package not a string", withStacks + "functions:\n  - {name: f, package: [a], function_name: f}\n", line + "24: package must be a string, not a list"},
		{"function name placeholder", withStacks + "functions:\n  - {name: f, package: f, function_name: \"f-{env}\"}\n", line + "42: function \"f\": function_name \"f-{env}\": {stage} is the only placeholder"},
		{"function name with colon", withStacks + "functions:\n  - {name: f, package: f, function_name: \"f:live\"}\n", line + "42: function \"f\": function_name \"f:live\" is \"f:live\" in stage \"stage\": use 1 to 64 letters, digits, '-' and '_'"},
		{"function name too long in a stage", withStacks + "functions:\n  - {name: f, package: f, function_name: \"" + strings.Repeat("x", 60) + "-{stage}\", stages: [prod]}\n", line + "42: function \"f\": function_name \"" + strings.Repeat("x", 60) + "-{stage}\" is \"" + strings.Repeat("x", 60) + "-prod\" in stage \"prod\": use 1 to 64 letters, digits, '-' and '_'"},
		{"alias only digits", fn("alias: \"42\""), line + "62: function \"f\": alias \"42\": use 1 to 128 letters, digits, '-' and '_', not only digits"},
		{"alias with dot", fn("alias: v.1"), line + "62: function \"f\": alias \"v.1\": use 1 to 128 letters, digits, '-' and '_', not only digits"},
		{"alias too long", fn("alias: " + strings.Repeat("a", 129)), line + "62: function \"f\": alias \"" + strings.Repeat("a", 129) + "\": use 1 to 128 letters, digits, '-' and '_', not only digits"},
		{"architecture", fn("architecture: amd64"), line + "69: function \"f\": architecture \"amd64\": use arm64 or x86_64"},
		{"after unknown stack", fn("after: [networc]"), line + "63: function \"f\": after names unknown stack \"networc\" (did you mean \"network\"?)"},
		{"after twice", fn("after: [api, api]"), line + "68: function \"f\": after lists \"api\" twice"},
		{"after a function", withStacks + "functions:\n  - {name: f, package: f, function_name: f}\n  - {name: g, package: g, function_name: g, after: [f]}\n", ".gitops.yaml:10:53: function \"g\": after names unknown stack \"f\""},
		{"strategy and steps", fn("strategy: AllAtOnce, steps: [{weight: 10, bake: 1m}]"), line + "83: function \"f\": set strategy or steps, not both"},
		{"strategy unknown", fn("strategy: Canary"), line + "65: function \"f\": strategy \"Canary\": " + strategyRule},
		{"strategy lowercase", fn("strategy: allAtOnce"), line + "65: function \"f\": strategy \"allAtOnce\": " + strategyRule},
		{"strategy 100 percent", fn("strategy: Canary100Percent5Minutes"), line + "65: function \"f\": strategy \"Canary100Percent5Minutes\": " + strategyRule},
		{"strategy 0 percent", fn("strategy: Linear0PercentEvery1Minute"), line + "65: function \"f\": strategy \"Linear0PercentEvery1Minute\": " + strategyRule},
		{"strategy 0 minutes", fn("strategy: Canary10Percent0Minutes"), line + "65: function \"f\": strategy \"Canary10Percent0Minutes\": " + strategyRule},
		{"strategy over a day", fn("strategy: Canary10Percent1441Minutes"), line + "65: function \"f\": strategy \"Canary10Percent1441Minutes\": " + strategyRule},
		{"strategy leading zero", fn("strategy: Canary05Percent5Minutes"), line + "65: function \"f\": strategy \"Canary05Percent5Minutes\": " + strategyRule},
		{"strategy huge minutes", fn("strategy: Canary10Percent99999999999999999999Minutes"), line + "65: function \"f\": strategy \"Canary10Percent99999999999999999999Minutes\": " + strategyRule},
		{"steps empty", fn("steps: []"), line + "62: function \"f\": steps is empty: leave it out to shift all traffic at once"},
		{"steps not a list", fn("steps: 10"), line + "62: steps must be a list, not a number"},
		{"step as a number", fn("steps: [10]"), line + "63: a step must be a mapping like {weight: 10, bake: 5m}, not a number"},
		{"step unknown key", fn("steps: [{weight: 10, wait: 1m}]"), line + "76: step: unknown key \"wait\""},
		{"step missing bake", fn("steps: [{weight: 10}]"), line + "63: function \"f\": a step needs weight and bake, like {weight: 10, bake: 5m}"},
		{"step weight a string", fn("steps: [{weight: ten, bake: 1m}]"), line + "72: weight must be a whole number of percent, not a string (ten)"},
		{"step weight a fraction", fn("steps: [{weight: 10.5, bake: 1m}]"), line + "72: weight must be a whole number of percent, not a number (10.5)"},
		{"step weight 0", fn("steps: [{weight: 0, bake: 1m}]"), line + "72: function \"f\": steps weight 0 must be from 1 to 99 (percent; 100 is the last step, always implied)"},
		{"step weight 100", fn("steps: [{weight: 100, bake: 1m}]"), line + "72: function \"f\": steps weight 100 must be from 1 to 99 (percent; 100 is the last step, always implied)"},
		{"step weights not increasing", fn("steps: [{weight: 50, bake: 1m}, {weight: 50, bake: 1m}]"), line + "96: function \"f\": steps weight 50 must be greater than the step before (50)"},
		{"step bake zero", fn("steps: [{weight: 10, bake: 0s}]"), line + "82: function \"f\": steps bake 0s must be more than 0 and at most 24h0m0s"},
		{"step bake negative", fn("steps: [{weight: 10, bake: -1m}]"), line + "82: function \"f\": steps bake -1m must be more than 0 and at most 24h0m0s"},
		{"step bake over a day", fn("steps: [{weight: 10, bake: 25h}]"), line + "82: function \"f\": steps bake 25h must be more than 0 and at most 24h0m0s"},
		{"step bake a number", fn("steps: [{weight: 10, bake: 300}]"), line + "82: bake must be a duration like 5m, not a number (300)"},
		{"step bake syntax", fn("steps: [{weight: 10, bake: 5 minutes}]"), line + "82: bake \"5 minutes\" is not a duration like 5m"},
		{"alarm star inside", fn("alarms: [\"api-*-errors\"]"), line + "64: function \"f\": alarms \"api-*-errors\" may use * only at its end, for a prefix"},
		{"alarm star alone", fn("alarms: [\"*\"]"), line + "64: function \"f\": alarms \"*\" would watch every alarm of the account: name a prefix before *"},
		{"alarm empty", fn("alarms: [\"\"]"), line + "64: function \"f\": alarms \"\" is empty"},
		{"alarm placeholder", fn("alarms: [\"{env}-errors\"]"), line + "64: function \"f\": alarms \"{env}-errors\" uses a placeholder other than {stage}"},
		{"alarm too long", fn("alarms: [" + strings.Repeat("a", 256) + "]"), line + "64: function \"f\": alarms \"" + strings.Repeat("a", 256) + "\" is longer than 255 characters"},
		{"alarm twice", fn("alarms: [a, a]"), line + "67: function \"f\": alarms lists \"a\" twice"},
		{"smoke escaping", fn("smoke: ../event.json"), line + "62: function \"f\": smoke \"../event.json\" must be a file inside the repository, relative to its root, without {stage}"},
		{"smoke root", fn("smoke: ./"), line + "62: function \"f\": smoke \"./\" must be a file inside the repository, relative to its root, without {stage}"},
		{"smoke with placeholder", fn("smoke: \"events/{stage}.json\""), line + "62: function \"f\": smoke \"events/{stage}.json\" must be a file inside the repository, relative to its root, without {stage}"},
		{"unknown stage", fn("stages: [dev, prdo]"), line + "69: function \"f\": stages names unknown stage \"prdo\" (did you mean \"prod\"?)"},
		{"stages empty", fn("stages: []"), line + "63: function \"f\": stages is empty: leave it out to run in every stage"},
		{"stage twice", fn("stages: [dev, dev]"), line + "69: function \"f\": stages lists \"dev\" twice"},
		{"too many functions", valid + "functions: [" + strings.Repeat("{}, ", MaxFunctions) + "{}]\n", ".gitops.yaml:5:12: functions lists 1001 functions; at most 1000 are supported"},
		{"rollback not a mapping", valid + "rollback: true\n", ".gitops.yaml:5:11: rollback must be a mapping like {auto_merge: false, watch: 15m}, not true/false"},
		{"rollback unknown key", valid + "rollback: {automerge: true}\n", ".gitops.yaml:5:12: rollback: unknown key \"automerge\" (did you mean \"auto_merge\"?)"},
		{"rollback auto_merge string", valid + "rollback: {auto_merge: \"yes\"}\n", ".gitops.yaml:5:24: rollback: auto_merge must be true or false, not a string (yes)"},
		{"rollback watch negative", valid + "rollback: {watch: -5m}\n", ".gitops.yaml:5:19: rollback: watch -5m must not be negative"},
		{"rollback watch a number", valid + "rollback: {watch: 15}\n", ".gitops.yaml:5:19: rollback: watch must be a duration like 15m, not a number (15)"},
		{"rollback watch syntax", valid + "rollback: {watch: 15 min}\n", ".gitops.yaml:5:19: rollback: watch \"15 min\" is not a duration like 15m"},
		{
			"several problems at once, in file order",
			withStacks + "functions:\n  - name: f\n    package: /f\n    function_name: f\n    after: [apii]\n    alarms: [\"a*b\"]\n",
			".gitops.yaml:10:14: function \"f\": package \"/f\" must be a directory inside the repository, relative to its root, without {stage}\n" +
				".gitops.yaml:12:13: function \"f\": after names unknown stack \"apii\" (did you mean \"api\"?)\n" +
				".gitops.yaml:13:14: function \"f\": alarms \"a*b\" may use * only at its end, for a prefix",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", cfg)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFunctionAPIAndDashboard(t *testing.T) {
	cfg, err := Parse([]byte(valid + "functions:\n  - name: f\n    package: f\n    function_name: f-{stage}\n    api: docs-{stage}-api\n    dashboard: docs-{stage}-platform\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Functions[0]
	if got := f.APIFor("prod"); got != "docs-prod-api" {
		t.Errorf("APIFor(prod) = %q", got)
	}
	if got := f.DashboardFor("prod"); got != "docs-prod-platform" {
		t.Errorf("DashboardFor(prod) = %q", got)
	}
	if got := (Function{}).DashboardFor("prod"); got != "" {
		t.Errorf("DashboardFor without a dashboard = %q", got)
	}
}

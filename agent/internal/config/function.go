package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults and bounds of functions and rollback.
const (
	MaxFunctions        = 1000
	DefaultAlias        = "live"
	DefaultArchitecture = ArchARM64
	DefaultStrategy     = "AllAtOnce"
	DefaultWatch        = 15 * time.Minute
	// MaxBake bounds the bake time of one traffic step, written as steps or in a strategy's minutes.
	MaxBake = 24 * time.Hour
)

// Architectures a function may be built for, as Lambda names them.
const (
	ArchARM64  = "arm64"
	ArchX86_64 = "x86_64"
)

// Function is one Go Lambda function the agent builds and releases, stage by stage, after the stacks
// it comes after have applied in that stage.
type Function struct {
	Name         string
	Package      string   // the Go main package's directory, repo-relative and cleaned; "." for the root
	FunctionName string   // the Lambda function's name; may contain {stage}
	Alias        string   // the alias releases move; "live" unless set
	Architecture string   // ArchARM64 (the default) or ArchX86_64
	After        []string // stacks applied before the release within a stage; nil when none
	// Strategy is the traffic strategy as written ("AllAtOnce" unless set), or "" when Steps is set.
	// Plan gives its steps.
	Strategy string
	Steps    []TrafficStep // the steps as written under steps:, nil when Strategy is used
	Alarms   []string      // CloudWatch alarm names; may contain {stage}; a trailing * matches a prefix
	Smoke    string        // repo-relative, cleaned path of the JSON event invoked first; "" for none
	Stages   []string      // the stages it is released in, in promotion order; default all
	// API is the name of the API Gateway REST API the function serves, may contain {stage}; when set,
	// the release's dashboard also shows the API's 5XX errors and latency.
	API string
	// Dashboard is the name of the stage's own CloudWatch dashboard (e.g. the observability stack's), may
	// contain {stage}: the deploy note links it next to the release's.
	Dashboard string
}

// TrafficStep is one step of a release: the new version gets Weight percent of the alias's traffic
// (1 to 99) for Bake while the alarms are watched.
type TrafficStep struct {
	Weight int
	Bake   time.Duration
}

// Rollback says what happens after a release fails or an alarm fires during the watch window.
type Rollback struct {
	// AutoMerge merges the revert merge request automatically (default false).
	AutoMerge bool
	// Watch is how long after a release completes its alarms still roll it back (default 15m; 0: not
	// at all).
	Watch time.Duration
}

// Plan returns the steps of the release before the final one, which always moves 100% of the traffic
// to the new version: empty for AllAtOnce, [{10 5m}] for Canary10Percent5Minutes, [{10 1m} {20 1m} …
// {90 1m}] for Linear10PercentEvery1Minute, a copy of Steps when they are set. The weights strictly
// increase from 1 to 99. A Function that Parse did not return may give nil for an invalid strategy.
func (f Function) Plan() []TrafficStep {
	if f.Steps != nil {
		return slices.Clone(f.Steps)
	}
	steps, _ := parseStrategy(f.Strategy)
	return steps
}

// FunctionNameFor returns the Lambda function's name in stage, {stage} expanded.
func (f Function) FunctionNameFor(stage string) string { return expand(f.FunctionName, stage) }

// AlarmsFor returns the alarm name patterns for stage, {stage} expanded; a trailing * still means a
// prefix.
func (f Function) AlarmsFor(stage string) []string { return expandAll(f.Alarms, stage) }

// APIFor returns the REST API's name in stage, {stage} expanded; "" when API is not set.
func (f Function) APIFor(stage string) string { return expand(f.API, stage) }

// DashboardFor returns the stage's own dashboard name in stage, {stage} expanded; "" when not set.
func (f Function) DashboardFor(stage string) string { return expand(f.Dashboard, stage) }

// RunsIn reports whether the function is released in stage.
func (f Function) RunsIn(stage string) bool { return slices.Contains(f.Stages, stage) }

// GOARCH returns the GOARCH value that builds for the function's architecture: "arm64" or "amd64".
func (f Function) GOARCH() string {
	if f.Architecture == ArchX86_64 {
		return "amd64"
	}
	return "arm64"
}

// Function returns the function called name.
func (c *Config) Function(name string) (Function, bool) {
	for _, f := range c.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// strategyPattern matches CodeDeploy-style strategy names: Canary<N>Percent<M>Minutes and
// Linear<N>PercentEvery<M>Minutes, "Minute" or "Minutes" either way.
var strategyPattern = regexp.MustCompile(`^(?:Canary([1-9][0-9]?)Percent|Linear([1-9][0-9]?)PercentEvery)([1-9][0-9]{0,3})Minutes?$`)

// parseStrategy returns the steps of a strategy name before the final 100%, and whether the name is
// valid.
func parseStrategy(s string) ([]TrafficStep, bool) {
	if s == DefaultStrategy {
		return []TrafficStep{}, true
	}
	m := strategyPattern.FindStringSubmatch(s)
	if m == nil {
		return nil, false
	}
	minutes, _ := strconv.Atoi(m[3])
	bake := time.Duration(minutes) * time.Minute
	if bake > MaxBake {
		return nil, false
	}
	if m[1] != "" {
		weight, _ := strconv.Atoi(m[1])
		return []TrafficStep{{Weight: weight, Bake: bake}}, true
	}
	step, _ := strconv.Atoi(m[2])
	var steps []TrafficStep
	for w := step; w < 100; w += step {
		steps = append(steps, TrafficStep{Weight: w, Bake: bake})
	}
	return steps, true
}

var (
	lambdaNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	aliasPattern      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	digitsPattern     = regexp.MustCompile(`^[0-9]+$`)
)

// maxAlarmName is CloudWatch's limit on an alarm name's length.
const maxAlarmName = 255

const strategyRule = "use AllAtOnce, Canary<N>Percent<M>Minutes or Linear<N>PercentEvery<M>Minutes, N from 1 to 99, M from 1 to 1440"

// validateFunctions checks every function against the stages and stacks (stackNames maps the valid
// stack names to their lines) and fills the defaults.
func validateFunctions(p *problems, c *Config, n *nodes, stages []string, stackNames map[string]int) {
	var stacks []string
	for _, s := range c.Stacks {
		if stackNames[s.Name] != 0 {
			stacks = append(stacks, s.Name)
		}
	}
	seen := map[string]int{}
	for i := range c.Functions {
		f, fn := &c.Functions[i], n.functions[i]
		switch {
		case fn.name == nil:
			p.at(fn.node, "function: name is missing")
		case !namePattern.MatchString(f.Name):
			p.at(fn.name, "function name %q: use %s", f.Name, nameRule)
		case seen[f.Name] != 0:
			p.at(fn.name, "function %q is defined twice (first on line %d)", f.Name, seen[f.Name])
		case stackNames[f.Name] != 0:
			p.at(fn.name, "function %q: the stack on line %d has that name; functions and stacks need different names", f.Name, stackNames[f.Name])
		default:
			seen[f.Name] = fn.name.Line
		}
		label := "function"
		if f.Name != "" {
			label = "function \"" + f.Name + "\""
		}
		f.Stages = checkStages(p, label, f.Stages, fn.stagesKey, fn.stages, stages)
		validateFunction(p, label, f, fn)
		listed := map[string]bool{}
		for j, s := range f.After {
			switch {
			case stackNames[s] == 0:
				p.at(fn.after[j], "%s: after names unknown stack %q%s", label, s, p.suggest(s, stacks))
			case listed[s]:
				p.at(fn.after[j], "%s: after lists %q twice", label, s)
			}
			listed[s] = true
		}
	}
}

// validateFunction checks a function's own values, its stages already resolved, and fills the defaults.
func validateFunction(p *problems, label string, f *Function, fn functionNodes) {
	if fn.pkg == nil {
		p.at(fn.node, "%s: package is missing", label)
	} else if clean, ok := cleanRel(f.Package); !ok || strings.ContainsAny(f.Package, "{}") {
		p.at(fn.pkg, "%s: package %q must be a directory inside the repository, relative to its root, without {stage}", label, f.Package)
	} else {
		f.Package = clean
	}
	if fn.functionName == nil {
		p.at(fn.node, "%s: function_name is missing", label)
	} else {
		checkFunctionName(p, fn.functionName, label, f)
	}
	if fn.alias == nil {
		f.Alias = DefaultAlias
	} else if !aliasPattern.MatchString(f.Alias) || digitsPattern.MatchString(f.Alias) {
		p.at(fn.alias, "%s: alias %q: use 1 to 128 letters, digits, '-' and '_', not only digits", label, f.Alias)
	}
	if fn.architecture == nil {
		f.Architecture = DefaultArchitecture
	} else if f.Architecture != ArchARM64 && f.Architecture != ArchX86_64 {
		p.at(fn.architecture, "%s: architecture %q: use %s or %s", label, f.Architecture, ArchARM64, ArchX86_64)
	}
	checkTraffic(p, label, f, fn)
	listed := map[string]bool{}
	for i, a := range f.Alarms {
		if msg := checkAlarm(a); msg != "" {
			p.at(fn.alarms[i], "%s: alarms %q %s", label, a, msg)
		} else if listed[a] {
			p.at(fn.alarms[i], "%s: alarms lists %q twice", label, a)
		}
		listed[a] = true
	}
	if fn.smoke != nil {
		if clean, ok := cleanRel(f.Smoke); !ok || strings.ContainsAny(f.Smoke, "{}") || clean == "." {
			p.at(fn.smoke, "%s: smoke %q must be a file inside the repository, relative to its root, without {stage}", label, f.Smoke)
		} else {
			f.Smoke = clean
		}
	}
}

// checkFunctionName checks function_name as it expands in each stage the function runs in.
func checkFunctionName(p *problems, at *yaml.Node, label string, f *Function) {
	if !placeholdersOK(f.FunctionName) {
		p.at(at, "%s: function_name %q: {stage} is the only placeholder", label, f.FunctionName)
		return
	}
	stages := f.Stages
	if len(stages) == 0 || !strings.Contains(f.FunctionName, StagePlaceholder) {
		stages = []string{"stage"}
	}
	for _, st := range stages {
		if name := f.FunctionNameFor(st); !lambdaNamePattern.MatchString(name) {
			p.at(at, "%s: function_name %q is %q in stage %q: use 1 to 64 letters, digits, '-' and '_'", label, f.FunctionName, name, st)
			return
		}
	}
}

// checkTraffic checks strategy or steps, one of them at most, and fills the default strategy.
func checkTraffic(p *problems, label string, f *Function, fn functionNodes) {
	switch {
	case fn.strategy != nil && fn.stepsKey != nil:
		p.at(fn.stepsKey, "%s: set strategy or steps, not both", label)
		return
	case fn.stepsKey == nil && fn.strategy == nil:
		f.Strategy = DefaultStrategy
		return
	case fn.strategy != nil:
		if _, ok := parseStrategy(f.Strategy); !ok {
			p.at(fn.strategy, "%s: strategy %q: %s", label, f.Strategy, strategyRule)
		}
		return
	}
	if len(f.Steps) == 0 && fn.stepsKey.Kind == yaml.SequenceNode {
		p.at(fn.stepsKey, "%s: steps is empty: leave it out to shift all traffic at once", label)
	}
	prev := 0
	for i, st := range f.Steps {
		sn := fn.steps[i]
		if sn.weight == nil || sn.bake == nil {
			p.at(sn.node, "%s: a step needs weight and bake, like {weight: 10, bake: 5m}", label)
			continue
		}
		switch {
		case st.Weight < 1 || st.Weight > 99:
			p.at(sn.weight, "%s: steps weight %d must be from 1 to 99 (percent; 100 is the last step, always implied)", label, st.Weight)
		case st.Weight <= prev:
			p.at(sn.weight, "%s: steps weight %d must be greater than the step before (%d)", label, st.Weight, prev)
		}
		prev = max(prev, st.Weight)
		if st.Bake <= 0 || st.Bake > MaxBake {
			p.at(sn.bake, "%s: steps bake %s must be more than 0 and at most %s", label, sn.bake.Value, MaxBake)
		}
	}
}

// checkAlarm returns what is wrong with an alarm name pattern, or "".
func checkAlarm(a string) string {
	prefix := strings.TrimSuffix(a, "*")
	switch {
	case a == "":
		return "is empty"
	case prefix == "":
		return "would watch every alarm of the account: name a prefix before *"
	case strings.Contains(prefix, "*"):
		return "may use * only at its end, for a prefix"
	case !placeholdersOK(a):
		return "uses a placeholder other than {stage}"
	case len(a) > maxAlarmName:
		return fmt.Sprintf("is longer than %d characters", maxAlarmName)
	}
	return ""
}

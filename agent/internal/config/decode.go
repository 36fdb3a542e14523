package config

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// nodes keeps where each value came from, so that checks after decoding can point at a line.
type nodes struct {
	root      *yaml.Node
	version   *yaml.Node
	stages    []stageNodes
	policies  []*yaml.Node
	stacks    []stackNodes
	functions []functionNodes
	rollback  *yaml.Node
}

type stageNodes struct {
	node, name, roleARN, planRoleARN *yaml.Node
}

type stackNodes struct {
	node, name, dir, workspace, stagesKey *yaml.Node
	varFiles, backendConfig, whenModified []*yaml.Node
	stages, dependsOn                     []*yaml.Node
}

type functionNodes struct {
	node, name, pkg, functionName, alias, architecture *yaml.Node
	strategy, stepsKey, smoke, stagesKey               *yaml.Node
	after, alarms, stages                              []*yaml.Node
	steps                                              []stepNodes
}

type stepNodes struct {
	node, weight, bake *yaml.Node
}

var (
	topKeys      = []string{"version", "stages", "policies", "stacks", "functions", "rollback"}
	stageKeys    = []string{"name", "role_arn", "plan_role_arn", "url"}
	stackKeys    = []string{"name", "dir", "var_files", "backend_config", "workspace", "when_modified", "stages", "depends_on"}
	functionKeys = []string{"name", "package", "function_name", "alias", "architecture", "after", "strategy", "steps", "alarms", "smoke", "stages", "api", "dashboard"}
	stepKeys     = []string{"weight", "bake"}
	rollbackKeys = []string{"auto_merge", "watch"}
)

// rejectAliases reports every alias: values are never expanded, so no alias bomb can grow, and a config
// reads the same to a person as to the agent.
func rejectAliases(p *problems, n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		p.at(n, "aliases (*%s) are not supported: write the value out", n.Value)
		return
	}
	for _, c := range n.Content {
		rejectAliases(p, c)
	}
}

// decode walks the document's root node into a Config, reporting unknown keys and wrong types.
func decode(p *problems, root *yaml.Node) (*Config, *nodes) {
	c := &Config{}
	n := &nodes{root: root}
	if root.Kind != yaml.MappingNode {
		p.at(root, "the file must be a mapping with the keys version, stages and stacks, not %s", kindOf(root))
		return c, n
	}
	fields(p, root, "", topKeys, func(key string, v *yaml.Node) {
		switch key {
		case "version":
			n.version = v
			if v.Kind == yaml.ScalarNode && v.Tag == "!!int" && v.Value == "1" {
				c.Version = 1
			} else if v.Kind == yaml.ScalarNode && v.Tag == "!!int" {
				p.at(v, "version %s is not supported: this agent reads version 1", v.Value)
			} else {
				p.at(v, "version must be 1, not %s", kindOrValue(v))
			}
		case "stages":
			if items, ok := list(p, v, "stages"); ok && len(items) > MaxStages {
				p.at(v, "stages lists %d stages; at most %d are supported", len(items), MaxStages)
			} else if ok {
				for _, item := range items {
					st, sn := decodeStage(p, item)
					c.Stages = append(c.Stages, st)
					n.stages = append(n.stages, sn)
				}
			}
		case "policies":
			c.Policies, n.policies = strList(p, v, "policies")
		case "stacks":
			if items, ok := list(p, v, "stacks"); ok && len(items) > MaxStacks {
				p.at(v, "stacks lists %d stacks; at most %d are supported", len(items), MaxStacks)
			} else if ok {
				for _, item := range items {
					st, sn := decodeStack(p, item)
					c.Stacks = append(c.Stacks, st)
					n.stacks = append(n.stacks, sn)
				}
			}
		case "functions":
			if items, ok := list(p, v, "functions"); ok && len(items) > MaxFunctions {
				p.at(v, "functions lists %d functions; at most %d are supported", len(items), MaxFunctions)
			} else if ok {
				for _, item := range items {
					f, fn := decodeFunction(p, item)
					c.Functions = append(c.Functions, f)
					n.functions = append(n.functions, fn)
				}
			}
		case "rollback":
			n.rollback = v
			c.Rollback = decodeRollback(p, v)
		}
	})
	if n.rollback == nil {
		c.Rollback = Rollback{Watch: DefaultWatch}
	}
	if n.version == nil {
		p.at(root, "version is missing: add \"version: 1\"")
	}
	return c, n
}

func decodeStage(p *problems, v *yaml.Node) (Stage, stageNodes) {
	var s Stage
	sn := stageNodes{node: v}
	if v.Kind != yaml.MappingNode {
		p.at(v, "a stage must be a mapping like {name: dev}, not %s", kindOf(v))
		return s, sn
	}
	fields(p, v, "stage: ", stageKeys, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			sn.name = v
			s.Name, _ = str(p, v, "stage name")
		case "role_arn":
			sn.roleARN = v
			s.RoleARN, _ = str(p, v, "role_arn")
		case "plan_role_arn":
			sn.planRoleARN = v
			s.PlanRoleARN, _ = str(p, v, "plan_role_arn")
		case "url":
			if u, ok := str(p, v, "url"); ok {
				if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "https" && parsed.Scheme != "http") || parsed.Host == "" || parsed.User != nil {
					p.at(v, "stage url %q must be an absolute http(s) URL without credentials, like https://api.dev.example.com", u)
				} else {
					s.URL = u
				}
			}
		}
	})
	return s, sn
}

func decodeStack(p *problems, v *yaml.Node) (Stack, stackNodes) {
	var s Stack
	sn := stackNodes{node: v}
	if v.Kind != yaml.MappingNode {
		p.at(v, "a stack must be a mapping with at least name and dir, not %s", kindOf(v))
		return s, sn
	}
	fields(p, v, "stack: ", stackKeys, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			sn.name = v
			s.Name, _ = str(p, v, "stack name")
		case "dir":
			sn.dir = v
			s.Dir, _ = str(p, v, "dir")
		case "workspace":
			sn.workspace = v
			s.Workspace, _ = str(p, v, "workspace")
		case "var_files":
			s.VarFiles, sn.varFiles = strList(p, v, key)
		case "backend_config":
			s.BackendConfig, sn.backendConfig = strList(p, v, key)
		case "when_modified":
			s.WhenModified, sn.whenModified = strList(p, v, key)
			if s.WhenModified == nil {
				s.WhenModified = []string{}
			}
		case "stages":
			sn.stagesKey = v
			s.Stages, sn.stages = strList(p, v, key)
		case "depends_on":
			s.DependsOn, sn.dependsOn = strList(p, v, key)
		}
	})
	return s, sn
}

func decodeFunction(p *problems, v *yaml.Node) (Function, functionNodes) {
	var f Function
	fn := functionNodes{node: v}
	if v.Kind != yaml.MappingNode {
		p.at(v, "a function must be a mapping with at least name, package and function_name, not %s", kindOf(v))
		return f, fn
	}
	fields(p, v, "function: ", functionKeys, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			fn.name = v
			f.Name, _ = str(p, v, "function name")
		case "package":
			fn.pkg = v
			f.Package, _ = str(p, v, key)
		case "function_name":
			fn.functionName = v
			f.FunctionName, _ = str(p, v, key)
		case "alias":
			fn.alias = v
			f.Alias, _ = str(p, v, key)
		case "architecture":
			fn.architecture = v
			f.Architecture, _ = str(p, v, key)
		case "strategy":
			fn.strategy = v
			f.Strategy, _ = str(p, v, key)
		case "smoke":
			fn.smoke = v
			f.Smoke, _ = str(p, v, key)
		case "api":
			f.API, _ = str(p, v, key)
		case "dashboard":
			f.Dashboard, _ = str(p, v, key)
		case "after":
			f.After, fn.after = strList(p, v, key)
		case "alarms":
			f.Alarms, fn.alarms = strList(p, v, key)
		case "stages":
			fn.stagesKey = v
			f.Stages, fn.stages = strList(p, v, key)
		case "steps":
			fn.stepsKey = v
			if items, ok := list(p, v, key); ok {
				f.Steps = make([]TrafficStep, 0, len(items))
				for _, item := range items {
					st, sn := decodeStep(p, item)
					f.Steps = append(f.Steps, st)
					fn.steps = append(fn.steps, sn)
				}
			}
		}
	})
	return f, fn
}

func decodeStep(p *problems, v *yaml.Node) (TrafficStep, stepNodes) {
	var st TrafficStep
	sn := stepNodes{node: v}
	if v.Kind != yaml.MappingNode {
		p.at(v, "a step must be a mapping like {weight: 10, bake: 5m}, not %s", kindOf(v))
		return st, sn
	}
	fields(p, v, "step: ", stepKeys, func(key string, v *yaml.Node) {
		switch key {
		case "weight":
			sn.weight = v
			if n, err := strconv.Atoi(v.Value); err == nil && v.Kind == yaml.ScalarNode && v.Tag == "!!int" {
				st.Weight = n
			} else {
				p.at(v, "weight must be a whole number of percent, not %s", kindOrValue(v))
			}
		case "bake":
			sn.bake = v
			st.Bake, _ = duration(p, v, key, "5m")
		}
	})
	return st, sn
}

func decodeRollback(p *problems, v *yaml.Node) Rollback {
	r := Rollback{Watch: DefaultWatch}
	if v.Kind != yaml.MappingNode {
		p.at(v, "rollback must be a mapping like {auto_merge: false, watch: 15m}, not %s", kindOf(v))
		return r
	}
	fields(p, v, "rollback: ", rollbackKeys, func(key string, v *yaml.Node) {
		switch key {
		case "auto_merge":
			if b, err := strconv.ParseBool(v.Value); err == nil && v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
				r.AutoMerge = b
			} else {
				p.at(v, "rollback: auto_merge must be true or false, not %s", kindOrValue(v))
			}
		case "watch":
			if d, ok := duration(p, v, "rollback: watch", "15m"); ok && d < 0 {
				p.at(v, "rollback: watch %s must not be negative", v.Value)
			} else if ok {
				r.Watch = d
			}
		}
	})
	return r
}

// duration decodes a Go duration such as "15m" or "1h30m"; a bare 0 is one too. example shows the
// syntax in messages.
func duration(p *problems, v *yaml.Node, what, example string) (time.Duration, bool) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!int" && v.Value == "0" {
		return 0, true
	}
	if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
		p.at(v, "%s must be a duration like %s, not %s", what, example, kindOrValue(v))
		return 0, false
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil {
		p.at(v, "%s %q is not a duration like %s", what, v.Value, example)
		return 0, false
	}
	return d, true
}

// fields calls set for each key of the mapping m, reporting unknown and repeated keys. prefix names
// the mapping in messages ("stack: ").
func fields(p *problems, m *yaml.Node, prefix string, known []string, set func(key string, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.at(k, "%skeys must be plain words, not %s", prefix, kindOf(k))
			continue
		}
		if !slices.Contains(known, k.Value) {
			p.at(k, "%sunknown key %q%s", prefix, k.Value, p.suggest(k.Value, known))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.at(k, "%s%s is set twice (first on line %d)", prefix, k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		set(k.Value, v)
	}
}

func list(p *problems, v *yaml.Node, what string) ([]*yaml.Node, bool) {
	if v.Kind != yaml.SequenceNode {
		p.at(v, "%s must be a list, not %s", what, kindOf(v))
		return nil, false
	}
	return v.Content, true
}

// strList decodes a list of strings. The slice is non-nil when v is a list, even an empty one.
func strList(p *problems, v *yaml.Node, what string) ([]string, []*yaml.Node) {
	items, ok := list(p, v, what)
	if !ok {
		return nil, nil
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, ok := str(p, item, what+" entry")
		if ok {
			out = append(out, s)
		} else {
			out = append(out, "")
		}
	}
	return out, items
}

func str(p *problems, v *yaml.Node, what string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
		p.at(v, "%s must be a string, not %s", what, kindOrValue(v))
		return "", false
	}
	return v.Value, true
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "true/false"
		case "!!null":
			return "empty"
		}
		return "a " + n.Tag + " value"
	}
	return "an unexpected YAML node"
}

// kindOrValue describes a wrong value, quoting short scalars so the reader sees what was written.
func kindOrValue(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" && len(n.Value) <= 40 {
		return fmt.Sprintf("%s (%s)", kindOf(n), n.Value)
	}
	return kindOf(n)
}

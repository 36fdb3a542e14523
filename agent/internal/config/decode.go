package config

import (
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
)

// nodes keeps where each value came from, so that checks after decoding can point at a line.
type nodes struct {
	root     *yaml.Node
	version  *yaml.Node
	stages   []stageNodes
	policies []*yaml.Node
	stacks   []stackNodes
}

type stageNodes struct {
	node, name, roleARN, planRoleARN *yaml.Node
}

type stackNodes struct {
	node, name, dir, workspace, stagesKey *yaml.Node
	varFiles, backendConfig, whenModified []*yaml.Node
	stages, dependsOn                     []*yaml.Node
}

var (
	topKeys   = []string{"version", "stages", "policies", "stacks"}
	stageKeys = []string{"name", "role_arn", "plan_role_arn"}
	stackKeys = []string{"name", "dir", "var_files", "backend_config", "workspace", "when_modified", "stages", "depends_on"}
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
		}
	})
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

package config

import (
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"
)

var (
	namePattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	roleARNPattern   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	workspacePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,89}$`)
)

const nameRule = "lowercase letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters"

// validate checks what decode could not see alone: names, references between stages, stacks and
// functions, paths and globs, cycles; then fills the defaults.
func validate(p *problems, c *Config, n *nodes) {
	if len(c.Stages) == 0 {
		at := n.root
		p.at(at, "stages is missing or empty: name at least one stage")
	}
	stageNames := validateStages(p, c, n)
	for i, dir := range c.Policies {
		clean, ok := cleanRel(dir)
		if !ok || strings.Contains(dir, StagePlaceholder) {
			p.at(n.policies[i], "policies: %q must be a directory inside the repository, relative to its root", dir)
			continue
		}
		c.Policies[i] = clean
	}
	stackNames := map[string]int{}
	for i := range c.Stacks {
		s, sn := &c.Stacks[i], n.stacks[i]
		if sn.name == nil {
			p.at(sn.node, "stack: name is missing")
		} else if !namePattern.MatchString(s.Name) {
			p.at(sn.name, "stack name %q: use %s", s.Name, nameRule)
		} else if line, dup := stackNames[s.Name]; dup {
			p.at(sn.name, "stack %q is defined twice (first on line %d)", s.Name, line)
		} else {
			stackNames[s.Name] = sn.name.Line
		}
		validateStack(p, s, sn, stageNames)
	}
	names := make([]string, 0, len(stackNames))
	for _, s := range c.Stacks {
		names = append(names, s.Name)
	}
	for i, s := range c.Stacks {
		listed := map[string]bool{}
		for j, dep := range s.DependsOn {
			at := n.stacks[i].dependsOn[j]
			switch {
			case dep == s.Name:
				p.at(at, "stack %q: depends_on names the stack itself", s.Name)
			case stackNames[dep] == 0:
				p.at(at, "stack %q: depends_on names unknown stack %q%s", s.Name, dep, p.suggest(dep, names))
			case listed[dep]:
				p.at(at, "stack %q: depends_on lists %q twice", s.Name, dep)
			}
			listed[dep] = true
		}
	}
	validateFunctions(p, c, n, stageNames, stackNames)
	if len(p.list) == 0 {
		reportCycles(p, c, n)
	}
}

// validateStages checks stage names and role ARNs and returns the valid names in order.
func validateStages(p *problems, c *Config, n *nodes) []string {
	var names []string
	seen := map[string]int{}
	for i, s := range c.Stages {
		sn := n.stages[i]
		switch {
		case sn.name == nil:
			p.at(sn.node, "stage: name is missing")
		case !namePattern.MatchString(s.Name):
			p.at(sn.name, "stage name %q: use %s", s.Name, nameRule)
		case seen[s.Name] != 0:
			p.at(sn.name, "stage %q is defined twice (first on line %d)", s.Name, seen[s.Name])
		default:
			seen[s.Name] = sn.name.Line
			names = append(names, s.Name)
		}
		if sn.roleARN != nil && !roleARNPattern.MatchString(s.RoleARN) {
			p.at(sn.roleARN, "stage %q: role_arn %q is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME", s.Name, s.RoleARN)
		}
		if sn.planRoleARN != nil && !roleARNPattern.MatchString(s.PlanRoleARN) {
			p.at(sn.planRoleARN, "stage %q: plan_role_arn %q is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME", s.Name, s.PlanRoleARN)
		}
	}
	return names
}

func validateStack(p *problems, s *Stack, sn stackNodes, stages []string) {
	label := "stack"
	if s.Name != "" {
		label = "stack \"" + s.Name + "\""
	}
	if sn.dir == nil {
		p.at(sn.node, "%s: dir is missing", label)
	} else if clean, ok := cleanRel(s.Dir); !ok || strings.ContainsAny(s.Dir, "{}") {
		p.at(sn.dir, "%s: dir %q must be a directory inside the repository, relative to its root, without {stage}", label, s.Dir)
	} else {
		s.Dir = clean
	}
	for i, f := range s.VarFiles {
		checkStagePath(p, sn.varFiles[i], label, "var_files", s.Dir, f, false)
	}
	for i, f := range s.BackendConfig {
		checkStagePath(p, sn.backendConfig[i], label, "backend_config", s.Dir, f, true)
	}
	if sn.workspace != nil {
		if !placeholdersOK(s.Workspace) || !workspacePattern.MatchString(expand(s.Workspace, "stage")) {
			p.at(sn.workspace, "%s: workspace %q: use letters, digits, '-', '_', '.' and {stage}", label, s.Workspace)
		}
	} else {
		s.Workspace = "default"
	}
	if s.WhenModified == nil {
		s.WhenModified = slices.Clone(DefaultWhenModified)
	}
	for i, g := range s.WhenModified {
		if msg := checkGlob(s.Dir, g); msg != "" {
			p.at(sn.whenModified[i], "%s: when_modified %q %s", label, g, msg)
		}
	}
	s.Stages = checkStages(p, label, s.Stages, sn.stagesKey, sn.stages, stages)
}

// checkStages checks the stages list of a stack or function (key is nil when it is left out) against
// the declared stages and returns it in promotion order: all stages when it is left out.
func checkStages(p *problems, label string, listed []string, key *yaml.Node, at []*yaml.Node, stages []string) []string {
	if key == nil {
		return slices.Clone(stages)
	}
	if len(listed) == 0 && key.Kind == yaml.SequenceNode {
		p.at(key, "%s: stages is empty: leave it out to run in every stage", label)
	}
	seen := map[string]bool{}
	for i, st := range listed {
		switch {
		case !slices.Contains(stages, st):
			p.at(at[i], "%s: stages names unknown stage %q%s", label, st, p.suggest(st, stages))
		case seen[st]:
			p.at(at[i], "%s: stages lists %q twice", label, st)
		}
		seen[st] = true
	}
	// Promotion order, whatever order the list has.
	var ordered []string
	for _, st := range stages {
		if slices.Contains(listed, st) {
			ordered = append(ordered, st)
		}
	}
	return ordered
}

// checkStagePath checks one var_files or backend_config entry: {stage} as the only placeholder, and a
// path relative to dir that stays in the repository. A backend_config entry may instead be key=value;
// its value may be a credential, so messages show only the key.
func checkStagePath(p *problems, at *yaml.Node, label, key, dir, value string, keyValue bool) {
	shown := value
	if k, _, isPair := strings.Cut(value, "="); keyValue && isPair {
		shown = k + "=…"
	}
	if !placeholdersOK(value) {
		p.at(at, "%s: %s %q: {stage} is the only placeholder", label, key, shown)
		return
	}
	if keyValue && strings.Contains(value, "=") {
		return
	}
	if _, ok := cleanRel(path.Join(dir, expand(value, "stage"))); !ok || path.IsAbs(value) || value == "" {
		p.at(at, "%s: %s %q must be a path relative to the stack dir that stays inside the repository", label, key, value)
	}
}

// placeholdersOK reports whether the only braces in s are those of {stage}.
func placeholdersOK(s string) bool {
	return !strings.ContainsAny(strings.ReplaceAll(s, StagePlaceholder, ""), "{}")
}

// checkGlob returns what is wrong with a when_modified glob of a stack in dir, or "".
func checkGlob(dir, glob string) string {
	switch {
	case glob == "":
		return "is empty"
	case path.IsAbs(glob):
		return "must be relative to the stack dir"
	case strings.Contains(glob, StagePlaceholder):
		return "cannot use {stage}: stages share one tree"
	}
	leading := true
	for seg := range strings.SplitSeq(glob, "/") {
		if seg != ".." && seg != "." {
			leading = false
		} else if seg == ".." && !leading {
			return "may use \"..\" only at its start"
		}
	}
	full, ok := repoGlob(dir, glob)
	if !ok {
		return "leads outside the repository"
	}
	if !doublestar.ValidatePattern(full) {
		return "is not a valid glob"
	}
	return ""
}

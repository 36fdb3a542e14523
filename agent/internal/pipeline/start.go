package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// change is what a job knows once it has started: the merge request, the tree at the commit, the
// config read from it, and the stacks the merge request's change affects.
type change struct {
	mr         gitops.MergeRequest
	tree       string
	cfg        *config.Config
	changed    []string // the paths the merge request changes
	affected   []config.Stack
	functions  []config.Function // the functions whose build the change may alter
	revertOf   int               // the merge request this one reverts, when the agent opened it; else 0
	rollback   *gitops.Rollback  // the rollback that opened this merge request, when it is a revert
	policy     gitops.PolicyContext
	policyDirs []string // absolute
}

// configError is a .gitops.yaml that cannot be used; it is reported, not retried.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// load is the start-up every job shares: it fetches the tree of project at sha, reads .gitops.yaml there
// and lists the stacks mr's change affects. An error is a *configError, wraps gitops.ErrUnusableSource
// (both final), or is transient.
func (r *Runner) load(ctx context.Context, project string, mr gitops.MergeRequest, sha string) (*change, error) {
	tree, err := r.Source.Checkout(ctx, project, sha)
	if err != nil {
		return nil, fmt.Errorf("fetch the source: %w", err)
	}
	cfg, err := config.Load(tree)
	if err != nil {
		return nil, &configError{err}
	}
	changed, err := r.MRs.ChangedPaths(ctx, project, mr.IID)
	if err != nil {
		return nil, fmt.Errorf("list the changed files: %w", err)
	}
	c := &change{
		mr: mr, tree: tree, cfg: cfg, changed: changed,
		affected:   affectedStacks(cfg, changed),
		functions:  affectedFunctions(cfg, changed),
		policy:     gitops.PolicyContext{Project: project, MergeRequest: mr},
		policyDirs: PolicyDirs(tree, cfg),
	}
	if r.Rollbacks != nil {
		rb, ok, err := r.Rollbacks.RevertOf(ctx, project, mr.IID)
		if err != nil {
			return nil, fmt.Errorf("read the ledger: %w", err)
		}
		if ok {
			if err := c.coverReverted(ctx, r, project, rb); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// settle records a start-up failure in a job's outcome: a broken config in configErr, a refused source
// in jobErr; both are final and settle returns nil. Any other error is transient and returned as it is.
func settle(err error, configErr, jobErr *string) error {
	var ce *configError
	switch {
	case errors.As(err, &ce):
		*configErr = ce.Error()
		return nil
	case errors.Is(err, gitops.ErrUnusableSource):
		*jobErr = "the source archive was refused: " + err.Error()
		return nil
	}
	return err
}

// PermanentError is an error an adapter knows trying again cannot cure (GitLab answering 401, 403 or
// 404, say): the job reports it at once instead of retrying. The queue checks the same method to end the
// job without a retry.
type PermanentError interface {
	error
	Permanent() bool
}

// permanent reports whether err, or an error it wraps, is a PermanentError that says so.
func permanent(err error) bool {
	var pe PermanentError
	return errors.As(err, &pe) && pe.Permanent()
}

// affectedStacks is every stack when the pipeline's own config changed, else the stacks the change affects.
func affectedStacks(cfg *config.Config, changed []string) []config.Stack {
	if slices.Contains(changed, config.FileName) {
		return cfg.Ordered()
	}
	return cfg.Affected(changed)
}

// chosen is the stacks of cfg named in names, in dependency order; with no names, affected.
func chosen(cfg *config.Config, names []string, affected []config.Stack) []config.Stack {
	if len(names) == 0 {
		return affected
	}
	var out []config.Stack
	for _, s := range cfg.Ordered() {
		if slices.Contains(names, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// only keeps the targets in the named stages; with no names, all of them.
func only(targets []Target, stages []string) []Target {
	if len(stages) == 0 {
		return targets
	}
	var out []Target
	for _, t := range targets {
		if slices.Contains(stages, t.Stage.Name) {
			out = append(out, t)
		}
	}
	return out
}

// unaffected names the stacks of cfg that are not in affected, in dependency order.
func unaffected(cfg *config.Config, affected []config.Stack) []string {
	var out []string
	for _, s := range cfg.Ordered() {
		if !slices.ContainsFunc(affected, func(a config.Stack) bool { return a.Name == s.Name }) {
			out = append(out, s.Name)
		}
	}
	return out
}

// PolicyDirs are the repository policy directories of cfg, absolute in tree.
func PolicyDirs(tree string, cfg *config.Config) []string {
	var dirs []string
	for _, d := range cfg.PolicyDirs(tree) {
		dirs = append(dirs, filepath.Join(tree, d))
	}
	return dirs
}

func stackNamed(cfg *config.Config, name string) config.Stack {
	for _, s := range cfg.Stacks {
		if s.Name == name {
			return s
		}
	}
	return config.Stack{Name: name}
}

// coverReverted makes a revert the agent opened select at least what the merge it reverts selected: its
// plan and promotion run every stack and function the original changed, whatever the revert's own diff
// selects (it undoes the same files, except when the default branch moved since).
func (c *change) coverReverted(ctx context.Context, r *Runner, project string, rb gitops.Rollback) error {
	c.revertOf, c.rollback, c.policy.Rollback = rb.Request.MR, &rb, true
	orig, err := r.MRs.ChangedPaths(ctx, project, rb.Request.MR)
	if err != nil {
		return fmt.Errorf("list the files the reverted merge request changed: %w", err)
	}
	both := append(slices.Clone(c.changed), orig...)
	c.affected, c.functions = affectedStacks(c.cfg, both), affectedFunctions(c.cfg, both)
	return nil
}

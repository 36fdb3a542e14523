// Package policy checks Terraform plans against Rego policies with OPA's Go library, the way conftest
// does (deny/warn/violation rules and their _suffix variants, string or {"msg": ...} results,
// conftest-style exception rules), but with every rule of every package evaluated in one prepared
// query per plan.
//
// Policies are sandboxed: the network built-ins (http.send, net.*) and opa.runtime (the process
// environment) do not exist for them, so a policy that calls one does not compile. Built-in errors are
// strict: a built-in that fails (json.unmarshal on a malformed document, a type error) fails the whole
// evaluation instead of quietly making a rule not fire.
package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// MaxPlanBytes bounds the plan JSON Check accepts.
const MaxPlanBytes = 128 << 20

// DefaultTimeout is the per-plan evaluation deadline when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// ErrInvalidPlan is returned (wrapped) by Check when the plan is not a JSON object within MaxPlanBytes.
var ErrInvalidPlan = errors.New("invalid plan JSON")

// Error is a policy that cannot be used: it does not parse or compile, or it fails at evaluation. File
// is the policy file as named in findings (see Engine.Check) and Line its 1-based line; both are empty
// when the failure has no location.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	default:
		return e.Msg
	}
}

// Options configures an Engine.
type Options struct {
	ServerDirs []string        // GITOPS_POLICY_DIR: always applied, a repo cannot switch them off
	Timeout    time.Duration   // per-plan evaluation deadline; 0 means DefaultTimeout
	Logger     *zerolog.Logger // may be nil
}

// Engine compiles policy sets (cached by content hash) and evaluates plans. Safe for concurrent use.
type Engine struct {
	serverDirs []string
	timeout    time.Duration
	log        *zerolog.Logger
	cache      *setCache
	// workers is how many goroutines evaluate a plan of n bytes.
	workers func(n int) int
}

// NewEngine returns an Engine. It reads no file until the first Check.
func NewEngine(opts Options) *Engine {
	log := opts.Logger
	if log == nil {
		nop := zerolog.Nop()
		log = &nop
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Engine{
		serverDirs: append([]string(nil), opts.ServerDirs...),
		timeout:    timeout,
		log:        log,
		cache:      newSetCache(maxCachedSets),
		workers:    evalWorkers,
	}
}

// Check evaluates one plan JSON against the policies in dirs (absolute paths; from the repo at the
// planned SHA) plus the server dirs. It returns findings sorted deterministically (severity deny first,
// then id, address, msg). A policy that does not compile or errors at evaluation returns an *Error
// naming file and line. With no policy file at all it returns no findings.
//
// Server policies evaluate on their own terms: a repo policy whose package is, is inside, or is a
// parent of a server package or data.gitops, or of a document a server policy reads, refuses the
// whole set with an *Error naming the repo file, its package line and why.
//
// A plan that is not a JSON object within MaxPlanBytes is an error wrapping ErrInvalidPlan, with or
// without policies.
//
// A finding's File is the policy file relative to the parent of its directory ("policies/s3.rego")
// for repo dirs, and the absolute path for server dirs. When a rule is defined in several files, File
// lists them, comma-separated.
func (e *Engine) Check(ctx context.Context, dirs []string, planJSON []byte, pc gitops.PolicyContext) ([]gitops.Finding, error) {
	srcs, err := readSources(dirs, e.serverDirs, false)
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		// No policy reads the plan, but one that is not a JSON object is refused all the same.
		_, err := parsePlan(planJSON, inputKeys{})
		return nil, err
	}
	set, err := e.cache.get(srcs, func() (*compiledSet, error) {
		start := time.Now()
		s, err := compileSet(srcs)
		if err == nil {
			e.log.Debug().Int("files", len(srcs)).Int("rules", len(s.rules)).Dur("took", time.Since(start)).Msg("policy set compiled")
		}
		return s, err
	})
	if err != nil {
		return nil, err
	}
	input, err := parsePlan(planJSON, set.input)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	start := time.Now()
	findings, err := set.eval(ctx, input, contextDocument(pc), e.workers(len(planJSON)))
	if err == nil {
		e.log.Debug().Str("stack", pc.Stack).Str("stage", pc.Stage).Int("findings", len(findings)).Dur("took", time.Since(start)).Msg("plan checked")
	}
	return findings, err
}

// contextDocument is data.gitops: {stage, stack, project, mr: {iid, author, labels, approved_by},
// rollback, plan_matches_review} (the last only when known).
func contextDocument(pc gitops.PolicyContext) map[string]any {
	strs := func(in []string) []any {
		out := make([]any, 0, len(in))
		for _, s := range in {
			out = append(out, s)
		}
		return out
	}
	doc := map[string]any{
		"stage":   pc.Stage,
		"stack":   pc.Stack,
		"project": pc.Project,
		"mr": map[string]any{
			"iid":         pc.MergeRequest.IID,
			"author":      pc.MergeRequest.Author,
			"labels":      strs(pc.MergeRequest.Labels),
			"approved_by": strs(pc.MergeRequest.ApprovedBy),
		},
	}
	if pc.PlanMatchesReview != nil {
		doc["plan_matches_review"] = *pc.PlanMatchesReview
	}
	doc["rollback"] = pc.Rollback
	return doc
}

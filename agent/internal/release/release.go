// Package release releases one Go Lambda function in one stage over the AWS Lambda API: it uploads a
// zip, publishes it as a version, smoke-invokes that version, and moves the function's alias to it,
// all at once on a first release and otherwise step by step as a canary, calling a watch function
// during each bake. On a failure after the alias could have moved, it points the alias back at the
// previous version at once.
//
// The sequence, each step waiting on Lambda's own state through the SDK's waiters:
//
//	GetAlias → UpdateFunctionCode (ZipFile) → FunctionUpdatedV2 waiter → PublishVersion (CodeSha256 guard)
//	→ PublishedVersionActive waiter → Invoke the new version (smoke, optional)
//	→ UpdateAlias per step (old version primary, new version weighted, RevisionId guard), bake and watch
//	→ UpdateAlias to the new version with routing cleared
package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
)

// MaxZipSize is Lambda's limit on a zip uploaded directly (UpdateFunctionCode's ZipFile), in bytes.
// Release refuses a larger zip before calling AWS.
const MaxZipSize = 50 << 20

// Defaults of Options.
const (
	DefaultPollInterval   = 30 * time.Second
	DefaultWaitTimeout    = 10 * time.Minute
	DefaultRestoreTimeout = time.Minute
)

// ErrZipTooLarge is returned, wrapped, for a zip above MaxZipSize.
var ErrZipTooLarge = errors.New("zip is larger than Lambda's direct-upload limit")

// Cause says why a release failed, in a few words fit for a metric label.
type Cause string

// Causes of a failed release.
const (
	CauseInvalid  Cause = "invalid"  // the request was refused before any call
	CauseAWS      Cause = "aws"      // a Lambda call failed
	CauseSmoke    Cause = "smoke"    // the smoke invocation of the new version failed
	CauseWatch    Cause = "watch"    // the watch function reported a problem during a bake
	CauseConflict Cause = "conflict" // the alias was changed by someone else (RevisionId mismatch)
	CauseCanceled Cause = "canceled" // the context ended
)

// Options configure a Releaser. Zero fields take the defaults.
type Options struct {
	// PollInterval is how often Request.Watch is called during a bake (DefaultPollInterval).
	PollInterval time.Duration
	// WaitTimeout bounds each SDK waiter: the code update, the new version becoming active
	// (DefaultWaitTimeout).
	WaitTimeout time.Duration
	// WaiterMinDelay and WaiterMaxDelay tune the SDK waiters' polling; zero keeps the SDK's defaults.
	WaiterMinDelay, WaiterMaxDelay time.Duration
	// RestoreTimeout bounds the restore of the alias after a failure, which runs even when the
	// release's context has ended (DefaultRestoreTimeout).
	RestoreTimeout time.Duration
	// Now is the clock the steps' times and the bakes' deadlines are read from (time.Now); the waits
	// between polls use real timers.
	Now func() time.Time
}

// Request is one release of one function in one stage.
type Request struct {
	FunctionName string // the Lambda function's name in this stage
	Alias        string // the alias to move
	Zip          []byte // the deployment package
	// Steps are the traffic steps before the final 100%, as config.Function.Plan gives them: weights
	// 1 to 99, increasing. Empty shifts all traffic at once. A first release ignores them.
	Steps []config.TrafficStep
	// Smoke, when not empty, is the JSON event invoked on the new version before any traffic moves.
	Smoke []byte
	// Watch, when set, is called every poll interval during each bake and once at its end; an error
	// fails the release and restores the alias. It is not called on a first release.
	Watch func(ctx context.Context) error
	// Progress, when set, is called after each move of the alias, with the step just taken, the
	// restore after a failure included, and the result so far (a copy), on the goroutine that called
	// Release.
	Progress func(Step, Result)
}

// Step is one move of the alias.
type Step struct {
	// Weight is the percent of the alias's traffic on the new version: 1 to 99 for a canary step, 100
	// when the alias points at the new version, 0 when it was restored to the old one.
	Weight int
	At     time.Time // when the alias moved
}

// Result is what a release did. Release returns it filled as far as the release got, also on error.
type Result struct {
	FunctionName string
	Alias        string
	CodeSha256   string // base64 of the zip's sha256, as Lambda reports it
	// OldVersion is the version the alias pointed to before; "" when the alias did not exist, "$LATEST"
	// when it pointed there.
	OldVersion string
	NewVersion string // the published version; "" if the release failed before publishing
	First      bool   // the alias was missing or on $LATEST: pointed at once, no canary
	Steps      []Step // the alias moves, in order; the last has Weight 100 when the release completed
	// RolledBack reports that the alias was pointed back at OldVersion after a failure; Cause and
	// Reason say why.
	RolledBack bool
	Cause      Cause  // why the release failed; "" when it succeeded
	Reason     string // the failure in words; "" when it succeeded
}

// Releaser releases functions through one Lambda client, whose credentials are the stage's role.
type Releaser struct {
	client *lambda.Client
	opts   Options
}

// New returns a Releaser calling Lambda through client.
func New(client *lambda.Client, opts Options) *Releaser {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	if opts.RestoreTimeout <= 0 {
		opts.RestoreTimeout = DefaultRestoreTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Releaser{client: client, opts: opts}
}

// Release uploads req.Zip to req.FunctionName, publishes it, smoke-invokes it and moves req.Alias to it
// per req.Steps. It returns the result and nil when the alias points at the new version with no
// routing. On error, the result says how far it got and why it failed; if the alias could have moved,
// it was pointed back at the previous version with routing cleared (RolledBack), and the error says so,
// or says that restoring failed too. The error wraps ErrZipTooLarge for a zip above MaxZipSize, and the
// SDK's error types (e.g. *types.PreconditionFailedException) for a Lambda failure.
func (r *Releaser) Release(ctx context.Context, req Request) (Result, error) {
	res := Result{FunctionName: req.FunctionName, Alias: req.Alias}
	if err := check(req); err != nil {
		res.Cause, res.Reason = CauseInvalid, err.Error()
		return res, fmt.Errorf("release %s: %w", req.FunctionName, err)
	}
	res.CodeSha256 = codeSha256(req.Zip)
	run := &run{r: r, req: req, res: &res}
	err := run.publish(ctx)
	if err == nil {
		err = run.shift(ctx)
	}
	if err == nil {
		return res, nil
	}
	res.Cause, res.Reason = cause(ctx, err), err.Error()
	if run.moving {
		if rerr := run.restore(ctx); rerr != nil {
			err = fmt.Errorf("%w; restoring alias %s to version %s failed too: %w", err, req.Alias, res.OldVersion, rerr)
		} else {
			res.RolledBack = true
			err = fmt.Errorf("%w (alias %s restored to version %s)", err, req.Alias, res.OldVersion)
		}
	}
	return res, fmt.Errorf("release %s: %w", req.FunctionName, err)
}

// check refuses a request that would fail or do harm, before any call.
func check(req Request) error {
	switch {
	case req.FunctionName == "":
		return errors.New("function name is empty")
	case req.Alias == "":
		return errors.New("alias is empty")
	case len(req.Zip) == 0:
		return errors.New("zip is empty")
	case len(req.Zip) > MaxZipSize:
		return fmt.Errorf("%w: %d bytes, limit %d (upload through S3 instead)", ErrZipTooLarge, len(req.Zip), MaxZipSize)
	}
	prev := 0
	for _, s := range req.Steps {
		if s.Weight <= prev || s.Weight > 99 || s.Bake < 0 {
			return fmt.Errorf("traffic steps must have increasing weights from 1 to 99 and no negative bake, got %v", req.Steps)
		}
		prev = s.Weight
	}
	return nil
}

// run is the state of one release in progress.
type run struct {
	r      *Releaser
	req    Request
	res    *Result
	rev    string // the alias's RevisionId from the last GetAlias or UpdateAlias
	routed bool   // the alias had additional version weights when read
	// weights are those weights: a release resumed mid-canary finds its new version there.
	weights map[string]float64
	moving  bool // an UpdateAlias away from OldVersion was attempted: a failure must restore
}

func (r *run) now() time.Time { return r.r.opts.Now() }

// step records and reports a move of the alias.
func (r *run) step(weight int) {
	s := Step{Weight: weight, At: r.now()}
	r.res.Steps = append(r.res.Steps, s)
	if r.req.Progress != nil {
		res := *r.res
		res.Steps = slices.Clone(res.Steps)
		r.req.Progress(s, res)
	}
}

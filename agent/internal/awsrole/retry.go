package awsrole

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// MaxAttempts is how many times the agent tries an AWS call before giving up: the first try and four
// retries.
const MaxAttempts = 5

// Retryer is the retryer of every AWS configuration the agent builds (config.WithRetryer(awsrole.Retryer)):
// the SDK's standard retryer, made explicit. It retries throttling (Throttling, ThrottlingException,
// TooManyRequestsException, RequestLimitExceeded, …), transient errors (5xx, connection resets, timeouts)
// and expired clock skew, up to MaxAttempts attempts, waiting a jittered exponential backoff (a random
// share of 2^attempt seconds, at most 20s) between them; its retry token bucket stops retries when most
// calls are failing.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = MaxAttempts })
}

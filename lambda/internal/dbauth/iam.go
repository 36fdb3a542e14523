package dbauth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
)

// IAM tokens are valid for 15 minutes; one is rebuilt once it is this old.
const tokenRefreshAfter = 10 * time.Minute

// IAMToken supplies an RDS IAM authentication token as the password of user. It is safe for concurrent
// use; mu guards token and built.
type IAMToken struct {
	endpoint, region, user string
	creds                  aws.CredentialsProvider
	now                    func() time.Time
	build                  func(ctx context.Context) (string, error)

	mu    sync.Mutex
	token string
	built time.Time
}

// NewIAMToken signs tokens for user at endpoint (host:port, the RDS Proxy or instance endpoint) in
// region with creds (the function's role). Nothing is signed until the first Credentials call.
func NewIAMToken(endpoint, region, user string, creds aws.CredentialsProvider) *IAMToken {
	t := &IAMToken{endpoint: endpoint, region: region, user: user, creds: creds, now: time.Now}
	t.build = func(ctx context.Context) (string, error) {
		return auth.BuildAuthToken(ctx, t.endpoint, t.region, t.user, t.creds)
	}
	return t
}

// Credentials returns the user and a token at least five minutes from expiry, signing a new one when the
// cached one is older than ten minutes.
func (t *IAMToken) Credentials(ctx context.Context) (string, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == "" || t.now().Sub(t.built) >= tokenRefreshAfter {
		if err := t.rebuild(ctx); err != nil {
			return "", "", err
		}
	}
	return t.user, t.token, nil
}

// Refresh signs a new token after the database rejected one, unless one was signed in the last second
// (concurrent failures share it).
func (t *IAMToken) Refresh(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Sub(t.built) < time.Second {
		return nil
	}
	return t.rebuild(ctx)
}

func (t *IAMToken) rebuild(ctx context.Context) error {
	tok, err := t.build(ctx)
	if err != nil {
		return fmt.Errorf("build RDS IAM auth token: %w", err)
	}
	t.token, t.built = tok, t.now()
	return nil
}

// Package cacheauth supplies credentials for ElastiCache (Valkey or Redis OSS) users that authenticate
// with IAM: the password is a short-lived token signed with the function's AWS credentials, so no static
// cache password exists anywhere.
package cacheauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	// service is the SigV4 signing name of ElastiCache.
	service = "elasticache"
	// tokenExpiry is the validity ElastiCache accepts at most (15 minutes), sent as X-Amz-Expires.
	tokenExpiry = 900
	// tokenReuse is how long a signed token is handed out again: new connections always get a token with
	// at least five minutes left.
	tokenReuse = 10 * time.Minute
	// emptyPayloadHash is the SHA-256 of the empty body of the signed GET.
	emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

var (
	// cacheIDPattern is a replication group id or serverless cache name as ElastiCache stores it:
	// lowercase, starting with a letter. It is the host of the signed request, so it must stay a host name.
	cacheIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)
	// userPattern is an ElastiCache user id; IAM authentication needs the user name to equal it.
	userPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{0,39}$`)
)

// IAMConfig names the cache and the user a token is for.
type IAMConfig struct {
	// CacheID is the replication group id, or the serverless cache name when Serverless is set.
	CacheID    string
	Serverless bool
	// User is the IAM-enabled ElastiCache user (its id, equal to its name).
	User string
	// Region is the cache's region; the token is signed for it.
	Region string
	// Credentials are the function's credentials (its execution role), which need elasticache:Connect
	// on the cache and on the user.
	Credentials aws.CredentialsProvider
}

// IAMToken hands out the user name and an IAM authentication token as Redis credentials. Tokens are
// signed on first use and reused for ten of their fifteen minutes (less when the AWS credentials that
// signed them expire sooner). It is safe for concurrent use; mu guards token and until.
type IAMToken struct {
	cfg    IAMConfig
	signer *v4.Signer
	now    func() time.Time

	mu    sync.Mutex
	token string
	until time.Time
}

// NewIAMToken checks cfg and returns a token source. Nothing is signed until the first Credentials call.
func NewIAMToken(cfg IAMConfig) (*IAMToken, error) {
	var errs []error
	if !cacheIDPattern.MatchString(cfg.CacheID) {
		errs = append(errs, errors.New("cache id: want 1-40 lowercase letters, digits or hyphens, starting with a letter"))
	}
	if !userPattern.MatchString(cfg.User) {
		errs = append(errs, errors.New("user: want 1-40 letters, digits or hyphens, starting with a letter"))
	}
	if cfg.Region == "" {
		errs = append(errs, errors.New("region is required"))
	}
	if cfg.Credentials == nil {
		errs = append(errs, errors.New("AWS credentials are required"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ElastiCache IAM authentication: %w", errors.Join(errs...))
	}
	return &IAMToken{cfg: cfg, signer: v4.NewSigner(), now: time.Now}, nil
}

// Credentials returns the user and a token valid for at least five more minutes, signing a new one when
// needed. It has the shape of go-redis's Options.CredentialsProviderContext, which calls it for every
// new connection. Errors never carry the token or the AWS credentials.
func (t *IAMToken) Credentials(ctx context.Context) (username, password string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == "" || !t.now().Before(t.until) {
		if err := t.sign(ctx); err != nil {
			return "", "", err
		}
	}
	return t.cfg.User, t.token, nil
}

// sign builds the token: the presigned URL of GET http://<cache id>/?Action=connect&User=<user>
// (with ResourceType=ServerlessCache for a serverless cache), without its scheme.
func (t *IAMToken) sign(ctx context.Context) error {
	creds, err := t.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("ElastiCache IAM token: retrieve AWS credentials: %w", err)
	}
	q := url.Values{"Action": {"connect"}, "User": {t.cfg.User}, "X-Amz-Expires": {fmt.Sprint(tokenExpiry)}}
	if t.cfg.Serverless {
		q.Set("ResourceType", "ServerlessCache")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.cfg.CacheID+"/?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("ElastiCache IAM token: build request: %w", err)
	}
	now := t.now()
	signed, _, err := t.signer.PresignHTTP(ctx, creds, req, emptyPayloadHash, service, t.cfg.Region, now.UTC())
	if err != nil {
		return fmt.Errorf("ElastiCache IAM token: sign: %w", err)
	}
	until := now.Add(tokenReuse)
	if creds.CanExpire && creds.Expires.Before(until) {
		until = creds.Expires
	}
	t.token, t.until = strings.TrimPrefix(signed, "http://"), until
	return nil
}

package cacheauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/google/go-cmp/cmp"
)

const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

var signedAt = time.Date(2026, 11, 26, 13, 45, 7, 0, time.UTC)

// newTestToken returns a token source on a clock the test moves.
func newTestToken(t testing.TB, cfg IAMConfig) (*IAMToken, *time.Time) {
	t.Helper()
	if cfg.Region == "" {
		cfg.Region = "eu-west-1"
	}
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")
	}
	tok, err := NewIAMToken(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := signedAt
	tok.now = func() time.Time { return now }
	return tok, &now
}

func TestTokenIsPresignedConnectRequest(t *testing.T) {
	tests := []struct {
		name      string
		cfg       IAMConfig
		session   string
		wantQuery map[string]string // every query parameter but the signature
	}{
		{
			name: "replication group",
			cfg:  IAMConfig{CacheID: "gitops-agent-prod", User: "gitops-agent-prod-app"},
			wantQuery: map[string]string{
				"Action": "connect", "User": "gitops-agent-prod-app",
				"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": testKeyID + "/20261126/eu-west-1/elasticache/aws4_request",
				"X-Amz-Date": "20261126T134507Z", "X-Amz-Expires": "900", "X-Amz-SignedHeaders": "host",
			},
		},
		{
			name:    "serverless cache with session credentials",
			cfg:     IAMConfig{CacheID: "docs-cache", Serverless: true, User: "app", Region: "us-east-2"},
			session: "FwoGZXIvYXdzE+session/token==",
			wantQuery: map[string]string{
				"Action": "connect", "User": "app", "ResourceType": "ServerlessCache",
				"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": testKeyID + "/20261126/us-east-2/elasticache/aws4_request",
				"X-Amz-Date": "20261126T134507Z", "X-Amz-Expires": "900", "X-Amz-SignedHeaders": "host",
				"X-Amz-Security-Token": "FwoGZXIvYXdzE+session/token==",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Credentials = credentials.NewStaticCredentialsProvider(testKeyID, testSecret, tt.session)
			tok, _ := newTestToken(t, tt.cfg)
			user, token, err := tok.Credentials(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if user != tt.cfg.User {
				t.Errorf("user = %q, want %q", user, tt.cfg.User)
			}
			if strings.Contains(token, "://") {
				t.Fatalf("token %q keeps a scheme; ElastiCache wants the URL without it", token)
			}
			u, err := url.Parse("http://" + token)
			if err != nil {
				t.Fatalf("token is not a URL without its scheme: %v", err)
			}
			if u.Host != tt.cfg.CacheID || u.Path != "/" {
				t.Errorf("token addresses %s%s, want %s/", u.Host, u.Path, tt.cfg.CacheID)
			}
			got := map[string]string{}
			for k, v := range u.Query() {
				got[k] = v[0]
			}
			sig := got["X-Amz-Signature"]
			delete(got, "X-Amz-Signature")
			if diff := cmp.Diff(tt.wantQuery, got); diff != "" {
				t.Errorf("query parameters (-want +got):\n%s", diff)
			}
			region := strings.Split(got["X-Amz-Credential"], "/")[2]
			if want := sigV4(u, region, testSecret); sig != want {
				t.Errorf("X-Amz-Signature = %q, want %q (SigV4 of GET with an empty body, host signed)", sig, want)
			}
		})
	}
}

// sigV4 computes the query-string SigV4 signature of u independently of the SDK's signer: the canonical
// request of a GET of / with every query parameter but the signature, the host header signed, and the
// SHA-256 of an empty payload.
func sigV4(u *url.URL, region, secret string) string {
	q := u.Query()
	q.Del("X-Amz-Signature")
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, escape(k)+"="+escape(q.Get(k)))
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	canonical := strings.Join([]string{"GET", "/", strings.Join(pairs, "&"), "host:" + u.Host + "\n", "host", sum("")}, "\n")
	date := q.Get("X-Amz-Date")
	scope := date[:8] + "/" + region + "/elasticache/aws4_request"
	toSign := strings.Join([]string{"AWS4-HMAC-SHA256", date, scope, sum(canonical)}, "\n")
	mac := func(key []byte, data string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(data))
		return m.Sum(nil)
	}
	key := []byte("AWS4" + secret)
	for _, part := range []string{date[:8], region, "elasticache", "aws4_request"} {
		key = mac(key, part)
	}
	return hex.EncodeToString(mac(key, toSign))
}

// escape is SigV4's URI encoding: everything but unreserved characters, spaces as %20.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// countingCreds counts retrievals and can expire its credentials.
type countingCreds struct {
	calls   atomic.Int32
	expires time.Time
	err     error
}

func (c *countingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	n := c.calls.Add(1)
	if c.err != nil {
		return aws.Credentials{}, c.err
	}
	// A different key per retrieval makes every signature differ.
	return aws.Credentials{AccessKeyID: testKeyID + string(rune('A'+n)), SecretAccessKey: testSecret,
		CanExpire: !c.expires.IsZero(), Expires: c.expires}, nil
}

func TestTokenReuse(t *testing.T) {
	tests := []struct {
		name        string
		credsExpire time.Duration // 0: credentials that do not expire
		after       time.Duration
		wantNew     bool
	}{
		{name: "reused within ten minutes", after: 9*time.Minute + 59*time.Second, wantNew: false},
		{name: "signed again after ten minutes", after: 10 * time.Minute, wantNew: true},
		{name: "signed again when the signing credentials expire first", credsExpire: 3 * time.Minute, after: 3 * time.Minute, wantNew: true},
		{name: "reused before the signing credentials expire", credsExpire: 3 * time.Minute, after: 2 * time.Minute, wantNew: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds := &countingCreds{}
			if tt.credsExpire > 0 {
				creds.expires = signedAt.Add(tt.credsExpire)
			}
			tok, now := newTestToken(t, IAMConfig{CacheID: "c", User: "u", Credentials: creds})
			ctx := context.Background()
			_, first, err := tok.Credentials(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, again, _ := tok.Credentials(ctx); again != first {
				t.Error("a second call at the same instant signed a new token")
			}
			*now = now.Add(tt.after)
			_, later, err := tok.Credentials(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if gotNew := later != first; gotNew != tt.wantNew {
				t.Errorf("new token after %v = %v, want %v", tt.after, gotNew, tt.wantNew)
			}
			if want := map[bool]int32{false: 1, true: 2}[tt.wantNew]; creds.calls.Load() != want {
				t.Errorf("credentials retrieved %d times, want %d", creds.calls.Load(), want)
			}
		})
	}
}

func TestCredentialsFailure(t *testing.T) {
	creds := &countingCreds{err: errors.New("no EC2 IMDS role found")}
	tok, _ := newTestToken(t, IAMConfig{CacheID: "c", User: "u", Credentials: creds})
	user, token, err := tok.Credentials(context.Background())
	if err == nil || !errors.Is(err, creds.err) {
		t.Fatalf("err = %v, want the credentials error wrapped", err)
	}
	if user != "" || token != "" {
		t.Errorf("got user %q and a token on failure", user)
	}
	// The failure is not cached: the next call tries again.
	creds.err = nil
	if _, token, err := tok.Credentials(context.Background()); err != nil || token == "" {
		t.Errorf("after recovery: token empty = %v, err = %v", token == "", err)
	}
}

func TestNewIAMTokenRejects(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")
	valid := IAMConfig{CacheID: "docs", User: "docs-app", Region: "eu-west-1", Credentials: creds}
	tests := []struct {
		name   string
		modify func(*IAMConfig)
		want   string
	}{
		{"empty cache id", func(c *IAMConfig) { c.CacheID = "" }, "cache id"},
		{"uppercase cache id", func(c *IAMConfig) { c.CacheID = "Docs" }, "cache id"},
		{"cache id that changes the signed host", func(c *IAMConfig) { c.CacheID = "evil.example.com/x" }, "cache id"},
		{"cache id too long", func(c *IAMConfig) { c.CacheID = "a" + strings.Repeat("b", 40) }, "cache id"},
		{"empty user", func(c *IAMConfig) { c.User = "" }, "user"},
		{"user with query syntax", func(c *IAMConfig) { c.User = "app&Action=x" }, "user"},
		{"no region", func(c *IAMConfig) { c.Region = "" }, "region"},
		{"no credentials", func(c *IAMConfig) { c.Credentials = nil }, "credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.modify(&cfg)
			_, err := NewIAMToken(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
	if _, err := NewIAMToken(valid); err != nil {
		t.Errorf("valid configuration rejected: %v", err)
	}
}

// BenchmarkCredentials measures signing an ElastiCache token and handing out a cached one, against the
// reference of signing an RDS IAM token with the SDK's own helper (the same work for another service).
// All three run interleaved in one loop.
func BenchmarkCredentials(b *testing.B) {
	creds := credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "session")
	fresh, now := newTestToken(b, IAMConfig{CacheID: "gitops-agent-prod", User: "gitops-agent-prod-app", Credentials: creds})
	cached, _ := newTestToken(b, IAMConfig{CacheID: "gitops-agent-prod", User: "gitops-agent-prod-app", Credentials: creds})
	ctx := context.Background()
	var signT, cachedT, refT time.Duration
	for b.Loop() {
		*now = now.Add(tokenReuse) // every call to fresh signs
		t0 := time.Now()
		if _, _, err := fresh.Credentials(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, _, err := cached.Credentials(ctx); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := auth.BuildAuthToken(ctx, "proxy.example.com:5432", "eu-west-1", "app", creds); err != nil {
			b.Fatal(err)
		}
		signT, cachedT, refT = signT+t1.Sub(t0), cachedT+t2.Sub(t1), refT+time.Since(t2)
	}
	b.ReportMetric(float64(signT.Nanoseconds())/float64(b.N), "sign-ns/op")
	b.ReportMetric(float64(refT.Nanoseconds())/float64(b.N), "ref-ns/op")
	b.ReportMetric(float64(signT)/float64(refT), "x-sign-vs-rds-token")
	b.ReportMetric(float64(cachedT)/float64(refT), "x-cached-vs-rds-token")
}

// FuzzIAMToken checks that any cache id and user are either refused or produce a token addressed to
// exactly that cache, for exactly that user: nothing in them can change the signed request.
func FuzzIAMToken(f *testing.F) {
	f.Add("gitops-agent-prod", "gitops-agent-prod-app", false)
	f.Add("docs-cache", "app", true)
	f.Fuzz(func(t *testing.T, cacheID, user string, serverless bool) {
		tok, err := NewIAMToken(IAMConfig{CacheID: cacheID, User: user, Serverless: serverless, Region: "eu-west-1",
			Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")})
		if err != nil {
			if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error leaks the secret key: %v", err)
			}
			return
		}
		gotUser, token, err := tok.Credentials(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse("http://" + token)
		if err != nil {
			t.Fatalf("token does not parse: %v", err)
		}
		q := u.Query()
		if u.Host != cacheID || u.Path != "/" || gotUser != user || q.Get("User") != user || q.Get("Action") != "connect" ||
			(q.Get("ResourceType") == "ServerlessCache") != serverless || len(q["User"]) != 1 || len(q["Action"]) != 1 {
			t.Fatalf("token for cache %q user %q serverless %v addresses host %q path %q query %v", cacheID, user, serverless, u.Host, u.Path, q)
		}
	})
}

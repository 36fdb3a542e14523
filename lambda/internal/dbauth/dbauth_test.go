package dbauth

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/fakeaws"
)

func TestParseSecret(t *testing.T) {
	cases := []struct {
		name, in string
		want     Secret
		wantErr  bool
	}{
		{"full RDS secret", `{"engine":"postgres","username":"app","password":"pw","host":"h","port":5432,"dbname":"docs"}`,
			Secret{Username: "app", Password: "pw", Host: "h", Port: 5432, DBName: "docs"}, false},
		{"managed master secret", `{"username":"postgres","password":"p"}`, Secret{Username: "postgres", Password: "p"}, false},
		{"port as string", `{"username":"a","password":"p","port":"6432"}`, Secret{Username: "a", Password: "p", Port: 6432}, false},
		{"null port", `{"username":"a","password":"p","port":null}`, Secret{Username: "a", Password: "p"}, false},
		{"no password", `{"username":"a"}`, Secret{}, true},
		{"port out of range", `{"username":"a","password":"p","port":70000}`, Secret{}, true},
		{"port not a number", `{"username":"a","password":"p","port":true}`, Secret{}, true},
		{"not JSON", `username=a password=p`, Secret{}, true},
		{"too large", `{"username":"a","password":"` + strings.Repeat("p", maxSecretBytes) + `"}`, Secret{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSecret(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), `"p"`) {
				t.Errorf("error %q quotes the secret", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("secret (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseSecret(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSecret(in)
		if err != nil {
			if s != (Secret{}) {
				t.Fatalf("error with a non-zero secret")
			}
			return
		}
		if s.Username == "" || s.Password == "" || s.Port < 0 || s.Port > 65535 {
			t.Fatalf("accepted an invalid secret: %+v", s)
		}
	})
}

func TestSecretSource(t *testing.T) {
	ctx := context.Background()
	sm := fakeaws.NewSecrets(t)
	if _, err := NewSecretSource(ctx, sm.Client(), "missing"); err == nil {
		t.Fatal("a missing secret was accepted at init")
	}
	sm.Put("db", `{"username":"app","password":"one"}`)
	src, err := NewSecretSource(ctx, sm.Client(), "db")
	if err != nil {
		t.Fatal(err)
	}
	sm.Put("db", `{"username":"app","password":"two"}`)
	if _, pw, _ := src.Credentials(ctx); pw != "one" {
		t.Errorf("password before refresh = %q, want the one fetched at init", pw)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = src.Refresh(ctx) }()
	}
	wg.Wait()
	if _, pw, _ := src.Credentials(ctx); pw != "two" {
		t.Errorf("password after refresh = %q, want the rotated one", pw)
	}
	if n := sm.Reads("db"); n != 2 {
		t.Errorf("20 concurrent refreshes read the secret %d times in all, want 2 (init + one)", n)
	}
	sm.Put("db", `not json`)
	src.refreshed = time.Time{} // past the rate limit
	if err := src.Refresh(ctx); err == nil {
		t.Error("refresh accepted a malformed secret")
	}
	if _, pw, _ := src.Credentials(ctx); pw != "two" {
		t.Errorf("a failed refresh replaced the password with %q", pw)
	}
}

func TestIAMToken(t *testing.T) {
	ctx := context.Background()
	tok := NewIAMToken("proxy.example.rds.amazonaws.com:5432", "eu-west-1", "app", fakeaws.Credentials())
	user, pw, err := tok.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse("https://" + pw)
	if err != nil {
		t.Fatalf("token %q is not a presigned URL: %v", pw, err)
	}
	q := u.Query()
	if user != "app" || u.Host != "proxy.example.rds.amazonaws.com:5432" || q.Get("Action") != "connect" || q.Get("DBUser") != "app" ||
		!strings.Contains(q.Get("X-Amz-Credential"), "/eu-west-1/rds-db/aws4_request") || q.Get("X-Amz-Signature") == "" {
		t.Errorf("token %q for user %q is not an RDS IAM auth token", pw, user)
	}

	// Tokens are reused until ten minutes old, then rebuilt; Refresh forces a rebuild.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok.now = func() time.Time { return now }
	tok.build = func(context.Context) (string, error) { return "token-" + now.Format(time.TimeOnly), nil }
	tok.token = ""
	steps := []struct {
		advance time.Duration
		refresh bool
		want    string
	}{
		{0, false, "token-00:00:00"},
		{9 * time.Minute, false, "token-00:00:00"},
		{2 * time.Minute, false, "token-00:11:00"},
		{time.Minute, true, "token-00:12:00"},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if s.refresh {
			if err := tok.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, got, _ := tok.Credentials(ctx); got != s.want {
			t.Errorf("step %d: token %q, want %q", i, got, s.want)
		}
	}
	tok.build = func(context.Context) (string, error) { return "", errors.New("no credentials") }
	now = now.Add(time.Hour)
	if _, _, err := tok.Credentials(ctx); err == nil {
		t.Error("an expired token was served when signing failed")
	}
}

package clitest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// STS is a stand-in for the STS Query API's AssumeRole: a SigV4-signed form POST (Action=AssumeRole,
// Version=2011-06-15) answered with XML, as the SDK's STS client speaks it. It accepts only requests
// signed with the agent's access key id for the service "sts" (403 InvalidClientTokenId otherwise; the
// signature itself is not checked) and hands out new credentials on every call: the nth call (from 1)
// gets IssuedCredentials(n). Give the agent its URL as AWS_ENDPOINT_URL_STS. An STS is safe for
// concurrent use.
type STS struct {
	*httptest.Server // URL is the endpoint

	agentKey string // the access key id the agent must sign with

	mu    sync.Mutex
	calls []url.Values
}

// NewSTS starts an STS stand-in that accepts calls signed with agentKey, and closes it when the test ends.
func NewSTS(t testing.TB, agentKey string) *STS {
	t.Helper()
	f := &STS{agentKey: agentKey}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// IssuedCredentials returns the credentials (access key id, secret access key, session token) the nth
// AssumeRole call (from 1) of an STS stand-in gets.
func IssuedCredentials(n int) (keyID, secret, token string) {
	return fmt.Sprintf("ASIASTSFAKE%05d", n), fmt.Sprintf("sts-secret-%d-0123456789abcdef", n), fmt.Sprintf("sts-session-token-%d//FAKE+=", n)
}

// Received returns the form of each AssumeRole call the stand-in answered with credentials, in order:
// the nth got IssuedCredentials(n+1). Refused calls are not in it.
func (f *STS) Received() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.calls...)
}

func (f *STS) serve(w http.ResponseWriter, r *http.Request) {
	stsError := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>`, code, msg)
	}
	auth := r.Header.Get("Authorization")
	if r.Method != http.MethodPost || !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+f.agentKey+"/") || !strings.Contains(auth, "/sts/aws4_request") {
		stsError(http.StatusForbidden, "InvalidClientTokenId", "the security token included in the request is invalid")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	form, perr := url.ParseQuery(string(body))
	if err != nil || perr != nil || form.Get("Action") != "AssumeRole" || form.Get("Version") != "2011-06-15" {
		stsError(http.StatusBadRequest, "InvalidAction", "expected Action=AssumeRole&Version=2011-06-15")
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, form)
	n := len(f.calls)
	f.mu.Unlock()
	key, secretKey, token := IssuedCredentials(n)
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleResult>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/gitops-deploy/%[1]s</Arn><AssumedRoleId>AROAFAKE:%[1]s</AssumedRoleId></AssumedRoleUser>
<Credentials><AccessKeyId>%[2]s</AccessKeyId><SecretAccessKey>%[3]s</SecretAccessKey><SessionToken>%[4]s</SessionToken><Expiration>%[5]s</Expiration></Credentials>
</AssumeRoleResult>
<ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-%012[6]d</RequestId></ResponseMetadata>
</AssumeRoleResponse>`, xmlText(form.Get("RoleSessionName")), key, secretKey, xmlText(token), time.Now().UTC().Add(time.Hour).Format(time.RFC3339), n)
}

// xmlText escapes s for XML character data.
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// WithAgentAWS gives the agent its own AWS credentials (key, secret; region eu-west-1, no session token,
// profile, shared files or instance metadata) through the process environment for the test's duration,
// with t.Setenv, and returns an STS stand-in that accepts them. Tests that call it cannot be parallel.
func WithAgentAWS(t *testing.T, key, secret string) *STS {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "credentials"),
	} {
		t.Setenv(k, v)
	}
	return NewSTS(t, key)
}

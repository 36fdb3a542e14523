package awsrole

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// stsNamespace is the XML namespace of STS answers.
const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// fakeSTS is an httptest server that speaks the STS Query API for AssumeRole: a form-encoded POST,
// checked for a valid SigV4 signature made with the caller's known credentials, answered with
// AssumeRoleResponse XML or, on failure, ErrorResponse XML as STS does.
type fakeSTS struct {
	*httptest.Server
	callers map[string]string // access key id → secret access key of the identities STS knows

	mu       sync.Mutex
	requests []assumeRequest // every AssumeRole that passed the signature check
	issued   int             // credentials handed out so far
	deny     string          // when set, AssumeRole answers AccessDenied with this message
	throttle int             // how many of the next AssumeRole calls answer Throttling (400 "Rate exceeded")
	calls    int             // AssumeRole calls received, throttled ones included
}

// throttleNext makes the next n AssumeRole calls fail as STS does when its rate limit is exceeded.
func (f *fakeSTS) throttleNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle = n
}

// attempts counts the AssumeRole calls received, throttled ones included.
func (f *fakeSTS) attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// assumeRequest is what the fake recorded of one AssumeRole call.
type assumeRequest struct {
	Caller          string // the access key id the request was signed with
	Region          string // the signing region
	RoleArn         string
	RoleSessionName string
	ExternalID      string
	HasExternalID   bool
	DurationSeconds string
}

func newFakeSTS(t testing.TB, callers map[string]string) *fakeSTS {
	t.Helper()
	f := &fakeSTS{callers: callers}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// credentials returns the credentials the fake hands out the nth time (from 1).
func issuedCredentials(n int) aws.Credentials {
	return aws.Credentials{
		AccessKeyID:     fmt.Sprintf("ASIAFAKE%08d", n),
		SecretAccessKey: fmt.Sprintf("assumed-secret-%d/abcdefghijklmnopqrstuvwxyz", n),
		SessionToken:    fmt.Sprintf("FwoGZXIvYXdzEFAKE//session-token-%d+/=", n),
	}
}

func (f *fakeSTS) setDeny(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deny = msg
}

func (f *fakeSTS) received() []assumeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]assumeRequest(nil), f.requests...)
}

func (f *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeSTSError(w, http.StatusMethodNotAllowed, "Sender", "InvalidAction", "STS Query API requests are POSTs")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeSTSError(w, http.StatusBadRequest, "Sender", "MalformedInput", "request body unreadable")
		return
	}
	caller, region, err := f.verifySignature(r, body)
	if err != nil {
		writeSTSError(w, http.StatusForbidden, "Sender", "SignatureDoesNotMatch", err.Error())
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") != "AssumeRole" || form.Get("Version") != "2011-06-15" {
		writeSTSError(w, http.StatusBadRequest, "Sender", "InvalidAction", "expected Action=AssumeRole&Version=2011-06-15")
		return
	}
	f.mu.Lock()
	f.calls++
	throttled := f.throttle > 0
	if throttled {
		f.throttle--
	}
	f.mu.Unlock()
	if throttled {
		writeSTSError(w, http.StatusBadRequest, "Sender", "Throttling", "Rate exceeded")
		return
	}
	req := assumeRequest{
		Caller: caller, Region: region,
		RoleArn: form.Get("RoleArn"), RoleSessionName: form.Get("RoleSessionName"),
		ExternalID: form.Get("ExternalId"), HasExternalID: form.Has("ExternalId"),
		DurationSeconds: form.Get("DurationSeconds"),
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	deny := f.deny
	if deny == "" {
		f.issued++
	}
	n := f.issued
	f.mu.Unlock()
	if deny != "" {
		writeSTSError(w, http.StatusForbidden, "Sender", "AccessDenied", deny)
		return
	}
	creds := issuedCredentials(n)
	var resp assumeRoleResponse
	resp.Result.User.Arn = strings.Replace(strings.Replace(req.RoleArn, ":iam::", ":sts::", 1), ":role/", ":assumed-role/", 1) + "/" + req.RoleSessionName
	resp.Result.User.AssumedRoleID = "AROAFAKEROLEID:" + req.RoleSessionName
	resp.Result.Credentials.AccessKeyID = creds.AccessKeyID
	resp.Result.Credentials.SecretAccessKey = creds.SecretAccessKey
	resp.Result.Credentials.SessionToken = creds.SessionToken
	resp.Result.Credentials.Expiration = time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	resp.Metadata.RequestID = fmt.Sprintf("c6104cbe-af31-11e0-8154-%012d", n)
	writeXML(w, http.StatusOK, resp)
}

// verifySignature checks the request's SigV4 Authorization header by signing the same request again,
// with the caller's secret and the headers the client said it signed, and comparing signatures.
func (f *fakeSTS) verifySignature(r *http.Request, body []byte) (caller, region string, err error) {
	auth := r.Header.Get("Authorization")
	const algorithm = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algorithm) {
		return "", "", fmt.Errorf("request is not signed with SigV4")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algorithm), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/") // AKID/date/region/service/aws4_request
	if len(scope) != 5 || scope[3] != "sts" || scope[4] != "aws4_request" {
		return "", "", fmt.Errorf("credential scope %q is not for sts", fields["Credential"])
	}
	caller, region = scope[0], scope[2]
	secret, ok := f.callers[caller]
	if !ok {
		return "", "", fmt.Errorf("the security token included in the request is invalid")
	}
	signedAt, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "", "", fmt.Errorf("missing or bad X-Amz-Date")
	}
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), strings.NewReader(string(body)))
	if err != nil {
		return "", "", err
	}
	again.Host = r.Host
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host":
		case "content-length":
			again.ContentLength = r.ContentLength
		default:
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	if !strings.Contains(fields["SignedHeaders"], "content-length") {
		again.ContentLength = 0
	}
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: caller, SecretAccessKey: secret},
		again, hex.EncodeToString(sum[:]), "sts", region, signedAt)
	if err != nil {
		return "", "", err
	}
	if again.Header.Get("Authorization") != auth {
		return "", "", fmt.Errorf("the request signature we calculated does not match the signature you provided")
	}
	return caller, region, nil
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		User struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
	} `xml:"AssumeRoleResult"`
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func writeSTSError(w http.ResponseWriter, status int, typ, code, msg string) {
	var e errorResponse
	e.Error.Type, e.Error.Code, e.Error.Message = typ, code, msg
	e.RequestID = "4fe4bdb0-0000-4000-8000-000000000000"
	writeXML(w, status, e)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	switch x := v.(type) {
	case assumeRoleResponse:
		x.Xmlns = stsNamespace
		v = x
	case errorResponse:
		x.Xmlns = stsNamespace
		v = x
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(v)
}

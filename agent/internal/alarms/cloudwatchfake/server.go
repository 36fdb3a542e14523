// Package cloudwatchfake is a stateful CloudWatch that serves DescribeAlarms over the Smithy RPC v2 CBOR
// protocol, the one aws-sdk-go-v2's CloudWatch client speaks (v1.76.0), so tests drive it with the real
// client (BaseEndpoint = URL, any static credentials).
//
// The wire format, as the client's protocol (smithy-go transport/http/protocol/rpcv2) expects it:
//   - requests are POST /service/GraniteServiceVersion20100801/operation/<Operation> with the headers
//     Smithy-Protocol: rpc-v2-cbor, Content-Type: application/cbor and a SigV4 Authorization for the
//     service "monitoring"; the body is the CBOR map of the operation's input members;
//   - answers carry Smithy-Protocol: rpc-v2-cbor and Content-Type: application/cbor; a body is the CBOR
//     map of the output members, timestamps as tag 1 over epoch seconds (a float, milliseconds kept);
//   - errors are a CBOR map with "__type" (the error shape's id, "com.amazonaws.cloudwatch#<Name>") and
//     the error's members, and, the service being awsQueryCompatible, the X-Amzn-Query-Error header
//     "<query code>;Sender|Receiver" that the client turns into the error's code.
//
// DescribeAlarms filters by AlarmNames (at most 100), AlarmNamePrefix (not with AlarmNames), AlarmTypes
// (MetricAlarm only when left out, as CloudWatch does) and StateValue, pages by MaxRecords (1 to 100,
// default 50) and NextToken (an unknown token, or one from another query, is InvalidNextToken). The other
// filters (ActionPrefix, ChildrenOfAlarmName, ParentsOfAlarmName) are refused as InvalidParameterValue
// rather than ignored. Other operations answer 404 UnknownOperationException.
//
// Tests set state with Put and SetState at any time, inject 500s with Fail, and read back the access key
// id of every call with AccessKeys. A Server is safe for concurrent use: one mutex guards all state.
package cloudwatchfake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

const (
	// Region is the region of the fake's alarm ARNs and of the clients Client builds.
	Region = "eu-west-1"
	// Account is the account id in the fake's alarm ARNs.
	Account = "123456789012"
	// SecretKey is the secret access key Client signs with; the fake does not verify signatures.
	SecretKey = "cloudwatchfake-secret"

	servicePath  = "/service/GraniteServiceVersion20100801/operation/"
	signingName  = "monitoring"
	maxBodyBytes = 1 << 20
)

// Alarm is one alarm of the fake. Zero fields take CloudWatch's values for a new alarm.
type Alarm struct {
	Name    string
	Type    types.AlarmType  // types.AlarmTypeMetricAlarm when empty, or types.AlarmTypeCompositeAlarm
	Rule    string           // a composite alarm's AlarmRule
	State   types.StateValue // types.StateValueInsufficientData when empty
	Reason  string           // StateReason
	Updated time.Time        // StateUpdatedTimestamp, kept to the millisecond; the time of Put when zero
}

// Server is a fake CloudWatch. The zero value is not usable: call New.
type Server struct {
	// URL is the base URL to give the client as BaseEndpoint.
	URL string

	tb  testing.TB
	srv *httptest.Server

	mu       sync.Mutex // guards every field below
	alarms   map[string]Alarm
	tokens   map[string]cursor
	keys     []string // access key id of each signed call, in order
	failures int      // how many calls still answer 500; negative: every call

	dashboards map[string][]byte // PutDashboard's bodies by name, made at the first (dashboards.go)
}

// cursor is where a NextToken resumes: after the alarm named after, for the query key.
type cursor struct {
	key   string
	after string
}

// New starts a fake CloudWatch with no alarms, and closes it when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{tb: tb, alarms: map[string]Alarm{}, tokens: map[string]cursor{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// Client returns a real CloudWatch client for the fake, signing with accessKeyID and SecretKey in Region.
// It keeps the SDK's standard retryer (3 attempts) with backoff capped at a millisecond, so tests of
// transient failures stay fast; optFns change the options further.
func (s *Server) Client(accessKeyID string, optFns ...func(*cloudwatch.Options)) *cloudwatch.Client {
	opts := cloudwatch.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, SecretKey, ""),
		Retryer:      retry.AddWithMaxBackoffDelay(retry.NewStandard(), time.Millisecond),
	}
	return cloudwatch.New(opts, optFns...)
}

// ARN returns the ARN CloudWatch gives the alarm named name.
func ARN(name string) string {
	return "arn:aws:cloudwatch:" + Region + ":" + Account + ":alarm:" + name
}

// Put adds the alarm, or replaces the one of that name.
func (s *Server) Put(a Alarm) {
	s.tb.Helper()
	if a.Name == "" {
		s.tb.Fatal("cloudwatchfake: Put: an alarm needs a name")
	}
	if a.Type == "" {
		a.Type = types.AlarmTypeMetricAlarm
	}
	if a.State == "" {
		a.State = types.StateValueInsufficientData
	}
	if a.Updated.IsZero() {
		a.Updated = time.Now()
	}
	a.Updated = a.Updated.Truncate(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alarms[a.Name] = a
}

// SetState sets an existing alarm's state and reason, and stamps it with the time now.
func (s *Server) SetState(name string, state types.StateValue, reason string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.alarms[name]
	if !ok {
		s.tb.Fatalf("cloudwatchfake: SetState: no alarm %q", name)
	}
	a.State, a.Reason, a.Updated = state, reason, time.Now().Truncate(time.Millisecond)
	s.alarms[name] = a
}

// Fail makes the next n calls answer 500 InternalServiceFault (query code InternalServiceError); a
// negative n makes every call fail until Fail(0).
func (s *Server) Fail(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = n
}

// AccessKeys returns the access key id each signed call carried, in the order the calls came.
func (s *Server) AccessKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.keys)
}

// serve answers one request: protocol checks, the signature's presence, injected failures, then the operation.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.URL.Path, servicePath)
	switch {
	case r.Method != http.MethodPost:
		writeError(w, http.StatusMethodNotAllowed, "", "UnknownOperationException", "message", "rpc-v2-cbor operations are POST")
		return
	case !ok || op != "DescribeAlarms" && op != "PutDashboard":
		writeError(w, http.StatusNotFound, "", "UnknownOperationException", "message", "cloudwatchfake serves only DescribeAlarms and PutDashboard, not "+r.URL.Path)
		return
	case r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor":
		writeError(w, http.StatusBadRequest, "", "SerializationException", "message", "missing header Smithy-Protocol: rpc-v2-cbor")
		return
	}
	key, err := accessKeyID(r)
	if err != nil {
		writeError(w, http.StatusForbidden, "MissingAuthenticationToken;Sender", "MissingAuthenticationToken", "message", err.Error())
		return
	}
	s.mu.Lock()
	s.keys = append(s.keys, key)
	failing := s.failures != 0
	if s.failures > 0 {
		s.failures--
	}
	s.mu.Unlock()
	if failing {
		writeError(w, http.StatusInternalServerError, "InternalServiceError;Receiver", "InternalServiceFault", "Message", "injected failure")
		return
	}
	in, err := readInput(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "", "SerializationException", "message", err.Error())
		return
	}
	if op == "PutDashboard" {
		s.putDashboard(w, in)
		return
	}
	s.describeAlarms(w, in)
}

// accessKeyID returns the access key id of the request's SigV4 Authorization header, checking its form:
// AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/monitoring/aws4_request, SignedHeaders=..., Signature=...
func accessKeyID(r *http.Request) (string, error) {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", fmt.Errorf("missing SigV4 Authorization header")
	}
	if r.Header.Get("X-Amz-Date") == "" || !strings.Contains(rest, "SignedHeaders=") || !strings.Contains(rest, "Signature=") {
		return "", fmt.Errorf("incomplete SigV4 Authorization header")
	}
	cred, _, _ := strings.Cut(strings.TrimPrefix(rest, "Credential="), ",")
	scope := strings.Split(cred, "/")
	if !strings.HasPrefix(rest, "Credential=") || len(scope) != 5 || scope[0] == "" || scope[3] != signingName || scope[4] != "aws4_request" {
		return "", fmt.Errorf("SigV4 credential scope %q is not <key>/<date>/<region>/%s/aws4_request", cred, signingName)
	}
	return scope[0], nil
}

// requestID returns a fresh request id for the X-Amzn-Requestid header.
func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newToken stores c and returns an opaque NextToken for it. The caller holds s.mu.
func (s *Server) newToken(c cursor) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	t := hex.EncodeToString(b)
	s.tokens[t] = c
	return t
}

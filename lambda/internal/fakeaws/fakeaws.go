// Package fakeaws runs protocol-faithful stand-ins for the AWS services the function uses, for tests:
// S3 is gofakes3 over plain HTTP, Secrets Manager a small JSON 1.1 server that keeps secrets and counts
// reads. Both are driven by the real SDK clients through BaseEndpoint.
package fakeaws

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Region and static credentials the fakes are used with.
const (
	Region    = "us-east-1"
	AccessKey = "AKIDFAKEFAKEFAKE"
	SecretKey = "fake-secret-key"
)

// Credentials returns static credentials accepted by the fakes.
func Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")
}

// S3 is an in-memory S3 served over plain HTTP.
type S3 struct {
	URL    string
	Bucket string
	Client *s3.Client
}

// NewS3 starts a fake S3 with one bucket; it stops when the test ends.
func NewS3(t testing.TB, bucket string) *S3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("create fake bucket: %v", err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		Region: Region, BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, Credentials: Credentials(),
	})
	return &S3{URL: srv.URL, Bucket: bucket, Client: client}
}

// Secrets is a fake Secrets Manager holding string secrets by id. It answers GetSecretValue; every
// other operation answers an UnknownOperationException.
type Secrets struct {
	URL string

	mu      sync.Mutex
	secrets map[string]string // guarded by mu
	reads   map[string]int    // guarded by mu
}

// NewSecrets starts a fake Secrets Manager; it stops when the test ends.
func NewSecrets(t testing.TB) *Secrets {
	t.Helper()
	s := &Secrets{secrets: map[string]string{}, reads: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Client returns a real SDK client pointed at the fake.
func (s *Secrets) Client() *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{Region: Region, BaseEndpoint: aws.String(s.URL), Credentials: Credentials()})
}

// Put stores (or rotates) the secret id.
func (s *Secrets) Put(id, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[id] = value
}

// Reads returns how many times the secret id was read.
func (s *Secrets) Reads(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[id]
}

func (s *Secrets) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "unsupported operation")
		return
	}
	if r.Header.Get("Authorization") == "" {
		awsError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "request is not signed")
		return
	}
	var in struct {
		SecretID string `json:"SecretId"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &in); err != nil || in.SecretID == "" {
		awsError(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required")
		return
	}
	s.mu.Lock()
	v, ok := s.secrets[in.SecretID]
	if ok {
		s.reads[in.SecretID]++
	}
	s.mu.Unlock()
	if !ok {
		awsError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ARN": "arn:aws:secretsmanager:" + Region + ":123456789012:secret:" + in.SecretID, "Name": in.SecretID,
		"SecretString": v, "VersionId": fmt.Sprintf("v%d", time.Now().UnixNano()),
		"VersionStages": []string{"AWSCURRENT"}, "CreatedDate": float64(time.Now().Unix()),
	})
}

func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

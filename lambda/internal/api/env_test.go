package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/api"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/blob"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/cache"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/fakeaws"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/store"
)

// env is the API over real Postgres and Redis and a fake S3, served by an httptest server.
type env struct {
	url   string
	store *store.Store
	cache *cache.Cache
	s3    *fakeaws.S3
	// stopRedis stops the test's own Redis server (only with ownRedis).
	stopRedis func()
}

type envOptions struct {
	ownRedis bool // a Redis server of the test's own, which it can stop
	cfg      api.Config
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	log := zerolog.Nop()
	st, err := store.Open(ctx, store.Config{URL: testsvc.Postgres(t), MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{store: st, stopRedis: func() {}}
	redisURL, prefix := "", ""
	if o.ownRedis {
		redisURL, e.stopRedis = testsvc.RedisServer(t)
	} else {
		redisURL, prefix = testsvc.Redis(t)
	}
	c, err := cache.New(cache.Config{URL: redisURL, Prefix: prefix, Timeout: 100 * time.Millisecond, Cooldown: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e.cache = c
	e.s3 = fakeaws.NewS3(t, "docs")
	b := blob.New(e.s3.Client, blob.Config{Bucket: "docs", KMSKeyID: "arn:aws:kms:us-east-1:123456789012:key/test"})
	srv := httptest.NewServer(api.NewServer(&log, st, c, b, o.cfg))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// client never follows redirects: the tests look at them.
var client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(t testing.TB, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	u := path
	if strings.HasPrefix(path, "/") {
		u = e.url + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func decode[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

// Wire shapes of the API, as a client sees them.
type docJSON struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	ContentType string            `json:"content_type"`
	Size        int64             `json:"size"`
	Metadata    map[string]string `json:"metadata"`
	State       string            `json:"state"`
	ETag        string            `json:"etag"`
}

type presignedJSON struct {
	PartNumber int32             `json:"part_number"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
}

type createdJSON struct {
	Document docJSON `json:"document"`
	Upload   struct {
		Type     string          `json:"type"`
		Request  *presignedJSON  `json:"request"`
		UploadID string          `json:"upload_id"`
		PartSize int64           `json:"part_size"`
		Parts    []presignedJSON `json:"parts"`
	} `json:"upload"`
}

type problemJSON struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Field  string `json:"field"`
}

// put sends body to a presigned request with the headers it demands and returns the ETag.
func put(t testing.TB, p presignedJSON, body []byte) string {
	t.Helper()
	req, err := http.NewRequest(p.Method, p.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p.Headers {
		if strings.EqualFold(k, "Content-Length") {
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("presigned %s: %d %s", p.Method, resp.StatusCode, b)
	}
	return resp.Header.Get("ETag")
}

// createUploaded creates a document with content, uploads it and completes it.
func (e *env) createUploaded(t testing.TB, name, contentType string, content []byte) docJSON {
	t.Helper()
	r := e.do(t, "POST", "/v1/documents", map[string]any{"name": name, "content_type": contentType, "size": len(content)})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	c := decode[createdJSON](t, r)
	put(t, *c.Upload.Request, content)
	r = e.do(t, "POST", "/v1/documents/"+c.Document.ID+"/complete", nil)
	if r.status != http.StatusOK {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	return decode[docJSON](t, r)
}

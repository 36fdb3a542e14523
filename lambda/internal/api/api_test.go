package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/api"
)

func TestDocumentLifecycle(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := []byte("hello, documents API")
	r := e.do(t, "POST", "/v1/documents", map[string]any{
		"name": "greeting.txt", "content_type": "text/plain", "size": len(content), "metadata": map[string]string{"team": "docs"},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	c := decode[createdJSON](t, r)
	id := c.Document.ID
	if got := r.header.Get("Location"); got != "/v1/documents/"+id {
		t.Errorf("Location = %q", got)
	}
	wantPending := docJSON{ID: id, Name: "greeting.txt", ContentType: "text/plain", Size: int64(len(content)), Metadata: map[string]string{"team": "docs"}, State: "pending"}
	if diff := cmp.Diff(wantPending, c.Document); diff != "" {
		t.Errorf("created document (-want +got):\n%s", diff)
	}
	if c.Upload.Type != "single" || c.Upload.Request == nil || c.Upload.Request.Method != "PUT" {
		t.Fatalf("upload = %+v, want one presigned PUT", c.Upload)
	}
	if got := c.Upload.Request.Headers["X-Amz-Server-Side-Encryption"]; got != "aws:kms" {
		t.Errorf("upload must carry SSE-KMS headers; got headers %v", c.Upload.Request.Headers)
	}

	if r := e.do(t, "GET", "/v1/documents/"+id, nil); r.status != http.StatusOK {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	if v, hit := e.cache.Get(context.Background(), id); !hit || !strings.Contains(string(v), `"state":"pending"`) {
		t.Errorf("the document is not in the cache after a read: %q", v)
	}
	if r := e.do(t, "POST", "/v1/documents/"+id+"/complete", nil); r.status != http.StatusConflict || decode[problemJSON](t, r).Code != api.CodeUploadIncomplete {
		t.Errorf("complete before upload: %d %s, want 409 upload_incomplete", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/documents/"+id+"/content", nil); r.status != http.StatusConflict || decode[problemJSON](t, r).Code != api.CodeNotReady {
		t.Errorf("content before completion: %d %s, want 409 not_ready", r.status, r.body)
	}
	put(t, *c.Upload.Request, content)
	for _, step := range []string{"complete", "complete again (idempotent)"} {
		r = e.do(t, "POST", "/v1/documents/"+id+"/complete", nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", step, r.status, r.body)
		}
		got := decode[docJSON](t, r)
		if got.State != "ready" || got.Size != int64(len(content)) || got.ETag == "" {
			t.Errorf("%s: document %+v, want ready with size and etag", step, got)
		}
	}
	got := decode[docJSON](t, e.do(t, "GET", "/v1/documents/"+id, nil))
	if got.State != "ready" {
		t.Errorf("get after complete: state %q, want ready (a stale cache entry?)", got.State)
	}

	// Download: a redirect to a presigned GET, or the bytes themselves with ?inline=1.
	r = e.do(t, "GET", "/v1/documents/"+id+"/content", nil)
	if r.status != http.StatusFound {
		t.Fatalf("content: %d %s, want 302", r.status, r.body)
	}
	if body := e.do(t, "GET", r.header.Get("Location"), nil).body; !bytes.Equal(body, content) {
		t.Errorf("presigned GET returned %q, want %q", body, content)
	}
	inline := []struct {
		name, rng   string
		status      int
		body        string
		contentRnge string
	}{
		{"whole", "", 200, string(content), ""},
		{"range", "bytes=7-15", 206, string(content[7:16]), fmt.Sprintf("bytes 7-15/%d", len(content))},
		{"open range", "bytes=14-", 206, string(content[14:]), fmt.Sprintf("bytes 14-%d/%d", len(content)-1, len(content))},
		{"suffix", "bytes=-3", 206, string(content[len(content)-3:]), fmt.Sprintf("bytes %d-%d/%d", len(content)-3, len(content)-1, len(content))},
		{"several ranges are ignored", "bytes=0-1,3-4", 200, string(content), ""},
		{"unsatisfiable", "bytes=500-", 416, "", fmt.Sprintf("bytes */%d", len(content))},
	}
	for _, tc := range inline {
		t.Run("inline "+tc.name, func(t *testing.T) {
			var hdr []string
			if tc.rng != "" {
				hdr = []string{"Range", tc.rng}
			}
			r := e.do(t, "GET", "/v1/documents/"+id+"/content?inline=1", nil, hdr...)
			if r.status != tc.status || r.header.Get("Content-Range") != tc.contentRnge {
				t.Fatalf("status %d Content-Range %q, want %d %q (%s)", r.status, r.header.Get("Content-Range"), tc.status, tc.contentRnge, r.body)
			}
			if tc.status < 300 && string(r.body) != tc.body {
				t.Errorf("body %q, want %q", r.body, tc.body)
			}
		})
	}

	for _, step := range []string{"delete", "delete again (idempotent)"} {
		if r := e.do(t, "DELETE", "/v1/documents/"+id, nil); r.status != http.StatusNoContent {
			t.Fatalf("%s: %d %s", step, r.status, r.body)
		}
	}
	if r := e.do(t, "GET", "/v1/documents/"+id, nil); r.status != http.StatusNotFound {
		t.Errorf("get after delete: %d, want 404 (stale cache?)", r.status)
	}
	if _, err := e.s3.Client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("docs"), Key: aws.String("documents/" + id)}); err == nil {
		t.Error("the object is still in S3 after delete")
	}
}

func TestMultipartUpload(t *testing.T) {
	e := newEnv(t, envOptions{cfg: api.Config{MultipartThreshold: 1 << 20, MinPartSize: 5 << 20, InlineMax: 16 << 20}})
	content := bytes.Repeat([]byte("0123456789abcdef"), (11<<20)/16+5) // 11 MiB + 80 bytes: three parts
	r := e.do(t, "POST", "/v1/documents", map[string]any{"name": "big.bin", "content_type": "application/octet-stream", "size": len(content)})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	c := decode[createdJSON](t, r)
	if c.Upload.Type != "multipart" || c.Upload.UploadID == "" || c.Upload.PartSize != 5<<20 || len(c.Upload.Parts) != 3 {
		t.Fatalf("upload = type %q id %q part size %d with %d parts; want multipart, 5 MiB, 3 parts", c.Upload.Type, c.Upload.UploadID, c.Upload.PartSize, len(c.Upload.Parts))
	}
	type partJSON struct {
		PartNumber int32  `json:"part_number"`
		ETag       string `json:"etag"`
	}
	var parts []partJSON
	for i, p := range c.Upload.Parts {
		chunk := content[int64(i)*c.Upload.PartSize : min(int64(len(content)), int64(i+1)*c.Upload.PartSize)]
		parts = append(parts, partJSON{p.PartNumber, put(t, p, chunk)})
	}
	path := "/v1/documents/" + c.Document.ID + "/complete"
	if r := e.do(t, "POST", path, map[string]any{"parts": parts[:2]}); r.status != http.StatusBadRequest || decode[problemJSON](t, r).Field != "parts" {
		t.Errorf("complete with a missing part: %d %s, want 400 naming parts", r.status, r.body)
	}
	r = e.do(t, "POST", path, map[string]any{"parts": parts})
	if r.status != http.StatusOK {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	if got := decode[docJSON](t, r); got.State != "ready" || got.Size != int64(len(content)) {
		t.Errorf("completed document %+v, want ready with %d bytes", got, len(content))
	}
	if r := e.do(t, "GET", "/v1/documents/"+c.Document.ID+"/content?inline=1", nil); !bytes.Equal(r.body, content) {
		t.Errorf("inline content: %d, %d bytes; want the %d uploaded bytes", r.status, len(r.body), len(content))
	}
}

func TestInlineOverTheLimitRedirects(t *testing.T) {
	e := newEnv(t, envOptions{cfg: api.Config{InlineMax: 4}})
	d := e.createUploaded(t, "a.txt", "text/plain", []byte("0123456789"))
	if r := e.do(t, "GET", "/v1/documents/"+d.ID+"/content?inline=1", nil); r.status != http.StatusFound {
		t.Errorf("inline of 10 bytes over a 4-byte limit: %d, want 302 to S3", r.status)
	}
	if r := e.do(t, "GET", "/v1/documents/"+d.ID+"/content?inline=1", nil, "Range", "bytes=0-3"); r.status != http.StatusPartialContent || string(r.body) != "0123" {
		t.Errorf("inline range within the limit: %d %q, want 206 \"0123\"", r.status, r.body)
	}
}

func TestProblems(t *testing.T) {
	e := newEnv(t, envOptions{})
	pending := decode[createdJSON](t, e.do(t, "POST", "/v1/documents", map[string]any{"name": "p", "content_type": "text/plain", "size": 1})).Document.ID
	tooMany := map[string]string{}
	for i := range 40 {
		tooMany[fmt.Sprint(i)] = "v"
	}
	cases := []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		code, field        string
	}{
		{"invalid JSON", "POST", "/v1/documents", `{"name":`, nil, 400, api.CodeInvalidJSON, ""},
		{"not an object", "POST", "/v1/documents", `[1,2]`, nil, 400, api.CodeInvalidJSON, ""},
		{"trailing data", "POST", "/v1/documents", `{"name":"a","content_type":"text/plain","size":1} {}`, nil, 400, api.CodeInvalidJSON, ""},
		{"unknown field", "POST", "/v1/documents", `{"name":"a","content_type":"text/plain","size":1,"owner":"x"}`, nil, 400, api.CodeInvalidField, "owner"},
		{"wrong type", "POST", "/v1/documents", `{"name":"a","content_type":"text/plain","size":"big"}`, nil, 400, api.CodeInvalidField, "size"},
		{"missing name", "POST", "/v1/documents", `{"content_type":"text/plain","size":1}`, nil, 400, api.CodeInvalidField, "name"},
		{"control characters in name", "POST", "/v1/documents", `{"name":"a\u0000b","content_type":"text/plain","size":1}`, nil, 400, api.CodeInvalidField, "name"},
		{"bad content type", "POST", "/v1/documents", `{"name":"a","content_type":"pdf","size":1}`, nil, 400, api.CodeInvalidField, "content_type"},
		{"negative size", "POST", "/v1/documents", `{"name":"a","content_type":"text/plain","size":-1}`, nil, 400, api.CodeInvalidField, "size"},
		{"huge size", "POST", "/v1/documents", `{"name":"a","content_type":"text/plain","size":9223372036854775807}`, nil, 400, api.CodeInvalidField, "size"},
		{"too much metadata", "POST", "/v1/documents", map[string]any{"name": "a", "content_type": "text/plain", "size": 1, "metadata": tooMany}, nil, 400, api.CodeInvalidField, "metadata"},
		{"body over 1 MiB", "POST", "/v1/documents", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, nil, 413, api.CodeBodyTooLarge, ""},
		{"not JSON", "POST", "/v1/documents", `name=a`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, api.CodeUnsupportedMediaType, ""},
		{"unknown route", "GET", "/v2/things", nil, nil, 404, api.CodeNotFound, ""},
		{"wrong method", "PUT", "/v1/documents", `{}`, nil, 405, api.CodeMethodNotAllowed, ""},
		{"unknown id", "GET", "/v1/documents/3f1c2a4e-0000-4000-8000-000000000000", nil, nil, 404, api.CodeNotFound, ""},
		{"malformed id", "GET", "/v1/documents/' OR 1=1 --", nil, nil, 404, api.CodeNotFound, ""},
		{"complete unknown id", "POST", "/v1/documents/3f1c2a4e-0000-4000-8000-000000000000/complete", nil, nil, 404, api.CodeNotFound, ""},
		{"limit out of range", "GET", "/v1/documents?limit=1000", nil, nil, 400, api.CodeInvalidField, "limit"},
		{"forged cursor", "GET", "/v1/documents?cursor=abc", nil, nil, 400, api.CodeInvalidField, "cursor"},
		{"content of a pending document", "GET", "/v1/documents/" + pending + "/content", nil, nil, 409, api.CodeNotReady, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, strings.ReplaceAll(tc.path, " ", "%20"), tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			p := decode[problemJSON](t, r)
			want := problemJSON{Type: "urn:documents-api:problem:" + tc.code, Status: tc.status, Code: tc.code, Field: tc.field}
			if diff := cmp.Diff(want, p); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
			for _, leak := range []string{"SELECT", "pgx", "SQLSTATE", "goroutine", ".go:"} {
				if bytes.Contains(r.body, []byte(leak)) {
					t.Errorf("problem leaks %q: %s", leak, r.body)
				}
			}
		})
	}
	if r := e.do(t, "DELETE", "/v1/documents", nil); r.header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("405 Allow = %q, want \"GET, HEAD, POST\"", r.header.Get("Allow"))
	}
}

func TestListPagination(t *testing.T) {
	e := newEnv(t, envOptions{})
	var want []string
	for i := range 7 {
		r := e.do(t, "POST", "/v1/documents", map[string]any{"name": fmt.Sprint("doc", i), "content_type": "text/plain", "size": 1})
		want = append([]string{decode[createdJSON](t, r).Document.ID}, want...)
	}
	type page struct {
		Documents  []docJSON `json:"documents"`
		NextCursor string    `json:"next_cursor"`
	}
	var got []string
	path := "/v1/documents?limit=3"
	for pages := 1; ; pages++ {
		p := decode[page](t, e.do(t, "GET", path, nil))
		for _, d := range p.Documents {
			got = append(got, d.ID)
		}
		if p.NextCursor == "" {
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			break
		}
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
		path = "/v1/documents?limit=3&cursor=" + p.NextCursor
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed ids, newest first (-want +got):\n%s", diff)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t, envOptions{ownRedis: true})
	type health struct{ Status, Database, Cache string }
	if got := decode[health](t, e.do(t, "GET", "/healthz", nil)); got != (health{"ok", "ok", "ok"}) {
		t.Errorf("healthz = %+v", got)
	}
	e.stopRedis()
	r := e.do(t, "GET", "/healthz", nil)
	if got := decode[health](t, r); r.status != 200 || got != (health{"degraded", "ok", "unavailable"}) {
		t.Errorf("healthz with Redis down = %d %+v, want 200 degraded", r.status, got)
	}
}

func TestRedisStoppedMidTest(t *testing.T) {
	e := newEnv(t, envOptions{ownRedis: true})
	d := e.createUploaded(t, "a.txt", "text/plain", []byte("abc"))
	if r := e.do(t, "GET", "/v1/documents/"+d.ID, nil); r.status != 200 {
		t.Fatalf("get: %d", r.status)
	}
	e.stopRedis()
	for i := range 5 {
		if r := e.do(t, "GET", "/v1/documents/"+d.ID, nil); r.status != 200 || decode[docJSON](t, r).ID != d.ID {
			t.Fatalf("get %d with Redis down: %d %s", i, r.status, r.body)
		}
	}
	other := e.createUploaded(t, "b.txt", "text/plain", []byte("defg"))
	if r := e.do(t, "GET", "/v1/documents/"+other.ID+"/content?inline=1", nil); string(r.body) != "defg" {
		t.Errorf("inline content with Redis down: %d %q", r.status, r.body)
	}
	if r := e.do(t, "DELETE", "/v1/documents/"+d.ID, nil); r.status != http.StatusNoContent {
		t.Errorf("delete with Redis down: %d %s", r.status, r.body)
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := e.createUploaded(t, "shared.txt", "text/plain", []byte("shared"))
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r response
			switch i % 4 {
			case 0:
				r = e.do(t, "GET", "/v1/documents/"+d.ID, nil)
			case 1:
				r = e.do(t, "GET", "/v1/documents?limit=5", nil)
			case 2:
				r = e.do(t, "POST", "/v1/documents", map[string]any{"name": fmt.Sprint("n", i), "content_type": "text/plain", "size": 3})
			case 3:
				r = e.do(t, "GET", "/v1/documents/"+d.ID+"/content?inline=1", nil)
			}
			if r.status >= 300 {
				errs <- fmt.Sprintf("request %d: %d %s", i, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	total, acquired := e.store.Stats()
	if total > 2 || acquired != 0 {
		t.Errorf("pool after 100 concurrent requests: %d open, %d acquired; want ≤2 and 0", total, acquired)
	}
}

// TestCachedAnswers checks the cache-aside read as a client sees it: the answer served from the cache is
// byte for byte the one served from the database, and an entry that is not a usable value for the
// document (corrupt, for another id) is ignored, never served.
func TestCachedAnswers(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	create := func(name string) string {
		t.Helper()
		r := e.do(t, "POST", "/v1/documents", map[string]any{"name": name, "content_type": "text/plain", "size": 3})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		return decode[createdJSON](t, r).Document.ID
	}
	id := create("a.txt")
	miss := e.do(t, "GET", "/v1/documents/"+id, nil)
	if _, hit := e.cache.Get(ctx, id); !hit {
		t.Fatal("the read did not fill the cache")
	}
	hit := e.do(t, "GET", "/v1/documents/"+id, nil)
	if miss.status != http.StatusOK || hit.status != http.StatusOK || string(miss.body) != string(hit.body) {
		t.Errorf("miss answered %d %s, hit %d %s; want the same 200", miss.status, miss.body, hit.status, hit.body)
	}
	for _, h := range []string{"Content-Type", "Content-Length"} {
		if miss.header.Get(h) != hit.header.Get(h) {
			t.Errorf("%s: miss %q, hit %q", h, miss.header.Get(h), hit.header.Get(h))
		}
	}

	other := create("other.txt")
	bad := map[string]string{
		"not JSON":        "garbage",
		"no hidden part":  `{"id":"ID","name":"x"}`,
		"another id":      `{"id":"` + other + `","name":"other.txt"}` + "\n{}",
		"id prefix only":  `{"id":"ID0","name":"x"}` + "\n{}",
		"truncated body":  `{"id":"ID","name":"x` + "\n{}",
		"bad hidden part": `{"id":"ID","name":"evil.txt","content_type":"text/plain","size":3,"metadata":{},"state":"ready","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}` + "\n{",
	}
	for name, value := range bad {
		t.Run(name, func(t *testing.T) {
			id := create(name)
			e.cache.Set(ctx, id, []byte(strings.ReplaceAll(value, "ID", id)))
			r := e.do(t, "GET", "/v1/documents/"+id, nil)
			if r.status != http.StatusOK {
				t.Fatalf("get: %d %s", r.status, r.body)
			}
			if got := decode[docJSON](t, r); got.ID != id || got.Name != name || got.State != "pending" {
				t.Errorf("served %+v, want the stored document %s", got, id)
			}
			// The content route decodes the whole value; it must fall back to the database too.
			if r := e.do(t, "GET", "/v1/documents/"+id+"/content", nil); r.status != http.StatusConflict {
				t.Errorf("content of a pending document: %d %s, want 409 not_ready", r.status, r.body)
			}
		})
	}
}

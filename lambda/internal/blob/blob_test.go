package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/fakeaws"
)

func send(t testing.TB, p document.PresignedRequest, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(p.Method, p.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p.Headers {
		if k != "Content-Length" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestSinglePutHeadOpenDelete(t *testing.T) {
	ctx := context.Background()
	f := fakeaws.NewS3(t, "b")
	s := New(f.Client, Config{Bucket: "b", KMSKeyID: "alias/docs"})
	content := []byte("0123456789")
	p, err := s.PresignPut(ctx, "k/1", "text/plain", int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Headers["X-Amz-Server-Side-Encryption"] != "aws:kms" || p.Headers["X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"] != "alias/docs" {
		t.Errorf("presigned PUT headers %v lack SSE-KMS", p.Headers)
	}
	if q, _ := url.ParseQuery(strings.SplitN(p.URL, "?", 2)[1]); !strings.Contains(q.Get("X-Amz-SignedHeaders"), "x-amz-server-side-encryption") {
		t.Errorf("SSE headers are not signed: %s", q.Get("X-Amz-SignedHeaders"))
	}
	if resp := send(t, p, content); resp.StatusCode != 200 {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	obj, err := s.Head(ctx, "k/1")
	if err != nil || obj.Size != 10 || obj.ETag == "" {
		t.Fatalf("Head = %+v, %v", obj, err)
	}
	body, part, err := s.Open(ctx, "k/1", 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if string(got) != "234" || part.Size != 3 {
		t.Errorf("Open(2,4) = %q (size %d), want \"234\"", got, part.Size)
	}
	u, err := s.PresignGet(ctx, "k/1", "résumé \"v2\".txt", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(all, content) {
		t.Errorf("presigned GET = %q", all)
	}
	for range 2 {
		if err := s.Delete(ctx, "k/1"); err != nil {
			t.Errorf("Delete: %v", err)
		}
	}
	if _, err := s.Head(ctx, "k/1"); !errors.Is(err, document.ErrObjectNotFound) {
		t.Errorf("Head after delete: %v, want ErrObjectNotFound", err)
	}
	if _, _, err := s.Open(ctx, "k/1", 0, -1); !errors.Is(err, document.ErrObjectNotFound) {
		t.Errorf("Open after delete: %v, want ErrObjectNotFound", err)
	}
}

func TestMultipart(t *testing.T) {
	ctx := context.Background()
	f := fakeaws.NewS3(t, "b")
	s := New(f.Client, Config{Bucket: "b"})
	id, err := s.CreateMultipart(ctx, "big", "application/octet-stream")
	if err != nil || id == "" {
		t.Fatalf("CreateMultipart = %q, %v", id, err)
	}
	chunks := [][]byte{bytes.Repeat([]byte("a"), 5<<20), []byte("tail")}
	var parts []document.Part
	for i, c := range chunks {
		p, err := s.PresignPart(ctx, "big", id, int32(i+1))
		if err != nil {
			t.Fatal(err)
		}
		resp := send(t, p, c)
		if resp.StatusCode != 200 {
			t.Fatalf("part %d: %d", i+1, resp.StatusCode)
		}
		parts = append(parts, document.Part{Number: int32(i + 1), ETag: resp.Header.Get("ETag")})
	}
	bad := []document.Part{{Number: 1, ETag: `"wrong"`}, parts[1]}
	if err := s.CompleteMultipart(ctx, "big", id, bad); !errors.Is(err, document.ErrInvalidParts) {
		t.Errorf("complete with a wrong ETag: %v, want ErrInvalidParts", err)
	}
	if err := s.CompleteMultipart(ctx, "big", id, parts); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if obj, err := s.Head(ctx, "big"); err != nil || obj.Size != 5<<20+4 {
		t.Errorf("Head = %+v, %v; want %d bytes", obj, err, 5<<20+4)
	}
	if err := s.CompleteMultipart(ctx, "big", id, parts); !errors.Is(err, document.ErrObjectNotFound) {
		t.Errorf("complete twice: %v, want ErrObjectNotFound (the upload is gone)", err)
	}
	if err := s.AbortMultipart(ctx, "big", id); err != nil {
		t.Errorf("abort of a finished upload: %v, want nil", err)
	}
}

func TestContentDisposition(t *testing.T) {
	cases := map[string]string{
		"a.txt":           `attachment; filename="a.txt"; filename*=UTF-8''a.txt`,
		"é \"q\"\r\n.txt": `attachment; filename="_ _q___.txt"; filename*=UTF-8''%C3%A9%20%22q%22%0D%0A.txt`,
	}
	for name, want := range cases {
		if got := mimeAttachment(name); got != want {
			t.Errorf("mimeAttachment(%q) = %s, want %s", name, got, want)
		}
	}
}

package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/queue"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/webhook"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// BenchmarkIntake measures accepted merge request events per second over HTTP: the real handler with a
// durable enqueue on SQLite and on PostgreSQL, against the reference of a bare net/http handler that reads
// the body and answers 202. Every event is a distinct merge request, so each one is a real insert.
func BenchmarkIntake(b *testing.B) {
	template := bytes.Replace(payload(b, "merge_request.json"), []byte(`"iid": 1,`), []byte(`"iid": IID,`), 1)
	if !bytes.Contains(template, []byte("IID")) {
		b.Fatal("fixture has no iid to vary")
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"queued"}` + "\n"))
	})
	b.Run("reference=bare-202", func(b *testing.B) { runIntake(b, bare, template) })
	b.Run("sqlite", func(b *testing.B) { runIntake(b, durable(b, queue.Options{DataDir: b.TempDir()}), template) })
	b.Run("postgres", func(b *testing.B) {
		runIntake(b, durable(b, queue.Options{DatabaseURL: testsvc.Postgres(b), DataDir: b.TempDir()}), template)
	})
}

var iidSeq atomic.Int64

func runIntake(b *testing.B, h http.Handler, template []byte) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8) // GitLab delivers concurrently; 8 × GOMAXPROCS senders
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bytes.Replace(template, []byte("IID"), []byte(strconv.FormatInt(iidSeq.Add(1)+1000, 10)), 1)
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
			req.Header.Set("X-Gitlab-Event", "Merge Request Hook")
			req.Header.Set("X-Gitlab-Token", secret)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

func durable(b *testing.B, opts queue.Options) http.Handler {
	b.Helper()
	q, err := queue.Open(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Stop(context.Background()) })
	return webhook.New(webhook.Options{Secret: secret, Queue: q})
}

package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// BenchmarkInvoke measures the adapter alone (decode a real REST event, build the request, serve a
// small JSON answer, encode the proxy response) against the reference a typed aws-lambda-go handler
// pays anyway: decoding the same event into events.APIGatewayProxyRequest and encoding a response.
// Both run interleaved in one loop.
func BenchmarkInvoke(b *testing.B) {
	payload := fixture(b, "rest-get.json")
	answer := []byte(`{"id":"3f1c2a4e-0000-4000-8000-000000000000","name":"a.pdf","state":"ready"}`)
	a := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	}))
	ctx := context.Background()
	var opT, refT time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := a.Invoke(ctx, payload); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var e events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(answer)}); err != nil {
			b.Fatal(err)
		}
		opT, refT = opT+t1.Sub(t0), refT+time.Since(t1)
	}
	b.ReportMetric(float64(opT.Nanoseconds())/float64(b.N), "adapter-ns/op")
	b.ReportMetric(float64(refT.Nanoseconds())/float64(b.N), "ref-ns/op")
	b.ReportMetric(float64(opT)/float64(refT), "x-vs-typed-decode")
}

package main

import (
	"slices"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// BenchmarkColdStart measures, through the Lambda Runtime Interface Emulator, the time from starting the
// process to the first response: emulator start-up, the function's init (AWS config, pgx pool with its
// first connection, Redis client and ping, S3 client) and one GET /healthz from an API Gateway event.
// The reference is the smallest aws-lambda-go function under the same emulator, measured in the same
// run; the reported figures are medians and their ratio.
func BenchmarkColdStart(b *testing.B) {
	rie := testsvc.RIE(b)
	bootstrap := buildBinary(b, ".")
	hello := buildBinary(b, "testdata/hello")
	env := functionEnv(b, bootstrap)
	event := healthEvent(b)

	measure := func(bin string, wantStatus float64) time.Duration {
		start := time.Now()
		emu := emulator{testsvc.StartRIE(b, rie, bin, env)}
		out := emu.invoke(b, event)
		d := time.Since(start)
		if out["statusCode"] != wantStatus {
			b.Fatalf("first response %v\nlogs:\n%s", out, emu.Logs())
		}
		return d
	}
	var api, ref []time.Duration
	for b.Loop() {
		api = append(api, measure(bootstrap, 200))
		ref = append(ref, measure(hello, 200))
	}
	ma, mr := median(api), median(ref)
	b.ReportMetric(float64(ma.Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(mr.Microseconds())/1000, "ref-ms-median")
	b.ReportMetric(float64(ma)/float64(mr), "x-vs-minimal-function")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func healthEvent(b testing.TB) []byte {
	b.Helper()
	return []byte(`{"resource":"/{proxy+}","path":"/healthz","httpMethod":"GET","headers":{"Accept":"application/json"},` +
		`"requestContext":{"requestId":"cold-start","stage":"prod","identity":{"sourceIp":"192.0.2.1"}}}`)
}

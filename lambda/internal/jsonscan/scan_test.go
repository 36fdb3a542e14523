package jsonscan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var validityCases = []string{
	``, ` `, `null`, `nul`, `nulll`, `true`, `tru`, `false`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e`, `1e+`,
	`1E-7`, `1e+07`, `-12.5e3`, `"a"`, `"a`, `"\"`, `"\u00e9"`, `"\u00g9"`, `"\x"`, `"\/\b\f\n\r\t"`, "\"a\tb\"",
	"\"\x7f\"", "\"\xff\xfe\"", `"\ud800"`, `{}`, `{ }`, `[]`, `[1,]`, `[,1]`, `[1 2]`, `{"a":1,}`, `{"a" 1}`,
	`{"a":1 "b":2}`, `{1:2}`, `{"a":[1,{"b":null}],"c":"d"}`, `{"a":1]`, `[1}`, `{"a":1} {}`, `{} x`, " {}\n",
	"\ufeff{}", `[[[[]]]]`, `{"a":}`, `{"a"}`, `[true,false,null]`, `[truefalse]`, `"\u12"`, `{"\u0061":1}`,
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, in := range validityCases {
		if got, want := Valid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", in, got, want)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	for _, n := range []int{MaxDepth, MaxDepth + 1} {
		in := strings.Repeat("[", n) + strings.Repeat("]", n)
		if got, want := Valid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("depth %d: Valid = %v, encoding/json says %v", n, got, want)
		}
	}
	var d Decoder
	d.Reset([]byte(strings.Repeat("[", MaxDepth+1)))
	d.Skip()
	if err := d.End(); !errors.Is(err, ErrDepth) {
		t.Errorf("error = %v, want ErrDepth", err)
	}
}

func FuzzValid(f *testing.F) {
	for _, in := range validityCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := Valid(in), json.Valid(in); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", in, got, want)
		}
	})
}

// FuzzAppendString checks that a string value decodes to the text encoding/json gives it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{`"a"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, "\"\xff\"", `"\\\"\/"`, `"é"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var want string
		wantErr := json.Unmarshal(in, &want)
		var d Decoder
		d.Reset(in)
		got := string(d.AppendString(nil))
		err := d.End()
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, encoding/json %v", in, err, wantErr)
		}
		if err == nil && got != want {
			t.Fatalf("%q: decoded %q, encoding/json %q", in, got, want)
		}
	})
}

// BenchmarkValid times Valid and encoding/json's Valid on a cached document, interleaved in one loop,
// and reports their ratio.
func BenchmarkValid(b *testing.B) {
	doc := []byte(`{"id":"3f1c2a4e-0000-4000-8000-000000000000","name":"bench.pdf","content_type":"application/pdf","size":1234,"metadata":{"team":"docs"},"state":"ready","created_at":"2026-12-06T09:38:09.123456Z","updated_at":"2026-12-06T09:38:09.123456Z"}`)
	var own, ref time.Duration
	for b.Loop() {
		t0 := time.Now()
		Valid(doc)
		t1 := time.Now()
		json.Valid(doc)
		own, ref = own+t1.Sub(t0), ref+time.Since(t1)
	}
	b.ReportMetric(float64(own.Nanoseconds())/float64(b.N), "jsonscan-ns/op")
	b.ReportMetric(float64(ref.Nanoseconds())/float64(b.N), "encoding-json-ns/op")
	b.ReportMetric(float64(own)/float64(ref), "x-vs-encoding-json")
}

// FuzzPlainWord checks the eight-bytes-at-a-time test against the byte table.
func FuzzPlainWord(f *testing.F) {
	f.Add(uint64(0x6161616161616161))
	f.Add(uint64(0x2261616161616161))
	f.Add(uint64(0x1f20202020202020))
	f.Fuzz(func(t *testing.T, w uint64) {
		want := true
		for i := range 8 {
			want = want && plain[byte(w>>(8*i))]
		}
		if got := plainWord(w); got != want {
			t.Fatalf("plainWord(%#x) = %v, want %v", w, got, want)
		}
	})
}

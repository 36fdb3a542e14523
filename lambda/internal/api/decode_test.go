package api

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

func seeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzCreateRequest: any body yields either a valid request or a 400 problem, never a panic, and a
// problem about a field names it.
func FuzzCreateRequest(f *testing.F) {
	seeds(f)
	s := &Server{cfg: Config{MaxSize: DefaultMaxSize}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req createRequest
		p := decodeJSON(body, &req)
		if p == nil {
			p = s.validateCreate(req)
		}
		if p == nil {
			if req.Name == nil || req.ContentType == nil || req.Size == nil || *req.Size < 0 || !validText(*req.Name, maxNameBytes) {
				t.Fatalf("accepted an invalid request %q", body)
			}
			return
		}
		if p.Status != http.StatusBadRequest || (p.Code == CodeInvalidField && p.Field == "") {
			t.Fatalf("problem %+v for %q", p, body)
		}
	})
}

func FuzzCompleteRequest(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req completeRequest
		if p := decodeJSON(body, &req); p != nil && p.Status != http.StatusBadRequest {
			t.Fatalf("problem %+v for %q", p, body)
		}
	})
}

func FuzzCursor(f *testing.F) {
	f.Add(EncodeCursor(document.Cursor{CreatedAt: time.Date(2026, 11, 26, 12, 0, 0, 123000, time.UTC), ID: document.NewID()}))
	f.Add("")
	f.Add("MTIzLmFiYw")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			return
		}
		if !document.ValidID(c.ID) {
			t.Fatalf("cursor %q decoded to an invalid id %q", s, c.ID)
		}
		if again, err := DecodeCursor(EncodeCursor(c)); err != nil || !again.CreatedAt.Equal(c.CreatedAt) || again.ID != c.ID {
			t.Fatalf("cursor does not round-trip: %+v -> %+v, %v", c, again, err)
		}
	})
}

func TestParseRange(t *testing.T) {
	cases := []struct {
		header       string
		size         int64
		want         byteRange
		partial, bad bool
	}{
		{"", 10, byteRange{}, false, false},
		{"bytes=0-4", 10, byteRange{0, 4}, true, false},
		{"bytes=5-", 10, byteRange{5, 9}, true, false},
		{"bytes=-3", 10, byteRange{7, 9}, true, false},
		{"bytes=-30", 10, byteRange{0, 9}, true, false},
		{"bytes=8-100", 10, byteRange{8, 9}, true, false},
		{"bytes=10-", 10, byteRange{}, false, true},
		{"bytes=-0", 10, byteRange{}, false, true},
		{"bytes=4-2", 10, byteRange{}, false, false},
		{"bytes=0-1,4-5", 10, byteRange{}, false, false},
		{"items=0-1", 10, byteRange{}, false, false},
		{"bytes=x-y", 10, byteRange{}, false, false},
		{"bytes=0-", 0, byteRange{}, false, true},
	}
	for _, tc := range cases {
		r, partial, bad := parseRange(tc.header, tc.size)
		if diff := cmp.Diff([]any{tc.want, tc.partial, tc.bad}, []any{r, partial, bad}, cmp.AllowUnexported(byteRange{})); diff != "" {
			t.Errorf("parseRange(%q, %d) (-want +got):\n%s", tc.header, tc.size, diff)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-4", "bytes=-3", "bytes=5-", "bytes=9223372036854775807-"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			return
		}
		r, partial, _ := parseRange(header, size)
		if partial && (r.start < 0 || r.end < r.start || r.end >= size) {
			t.Fatalf("parseRange(%q, %d) = %+v outside the object", header, size, r)
		}
	})
}

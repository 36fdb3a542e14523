package ledger

import (
	"net/url"
	"testing"
	"unicode/utf8"
)

// FuzzParseQuery feeds raw query strings, as a client sends them, to the deployments query parser: it never
// panics, and what it accepts is within bounds.
func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{"project=group%2Fapp", "project=a&limit=10", "limit=1", "project=a&limit=99999999999999999999"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery(v)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if q.Project == "" || len(q.Project) > maxName || !utf8.ValidString(q.Project) {
			t.Fatalf("accepted project %q", q.Project)
		}
		if q.Limit < 1 || q.Limit > MaxHistoryLimit {
			t.Fatalf("accepted limit %d", q.Limit)
		}
	})
}

package awsrole

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// validSession is STS's rule for RoleSessionName.
var validSession = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

func TestSanitizeSession(t *testing.T) {
	cases := []struct{ in, want string }{
		{"gitops-group-app-mr-42", "gitops-group-app-mr-42"},
		{"user@example.com,ok=1+2", "user@example.com,ok=1+2"},
		{"group/sub/app !7", "group-sub-app--7"},
		{"héllo wörld", "h-llo-w-rld"},
		{"", fallbackSession},
		{"x", fallbackSession},
		{"/", fallbackSession},
		{"ab", "ab"},
		{strings.Repeat("a", 100), strings.Repeat("a", 64)},
		{strings.Repeat("é", 100), strings.Repeat("-", 64)},
		{"new\nline\x00nul", "new-line-nul"},
	}
	for _, c := range cases {
		got := SanitizeSession(c.in)
		if got != c.want {
			t.Errorf("SanitizeSession(%q) = %q, want %q", c.in, got, c.want)
		}
		if !validSession.MatchString(got) {
			t.Errorf("SanitizeSession(%q) = %q, which STS refuses", c.in, got)
		}
	}
}

func TestSessionName(t *testing.T) {
	cases := []struct {
		project string
		mr      int
		want    string
	}{
		{"group/app", 42, "gitops-group-app-mr-42"},
		{"a", 0, "gitops-a-mr-0"},
		{"", 5, "gitops--mr-5"},
		{"group/" + strings.Repeat("very-long-name", 8), 123456, "gitops-group-very-long-namevery-long-namevery-long-nam-mr-123456"},
	}
	for _, c := range cases {
		got := SessionName(c.project, c.mr)
		if got != c.want {
			t.Errorf("SessionName(%q, %d) = %q, want %q", c.project, c.mr, got, c.want)
		}
		if !validSession.MatchString(got) {
			t.Errorf("SessionName(%q, %d) = %q, which STS refuses", c.project, c.mr, got)
		}
	}
}

// FuzzSanitizeSession feeds session names made from outside input (project paths): the result is always a
// name STS accepts, and valid names pass unchanged.
func FuzzSanitizeSession(f *testing.F) {
	f.Add("group/app", 1)
	f.Fuzz(func(t *testing.T, s string, mr int) {
		got := SanitizeSession(s)
		if !validSession.MatchString(got) {
			t.Fatalf("SanitizeSession(%q) = %q", s, got)
		}
		if validSession.MatchString(s) && got != s {
			t.Fatalf("SanitizeSession changed the valid name %q to %q", s, got)
		}
		if utf8.ValidString(s) {
			name := SessionName(s, mr)
			if !validSession.MatchString(name) {
				t.Fatalf("SessionName(%q, %d) = %q", s, mr, name)
			}
		}
	})
}

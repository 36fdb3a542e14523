package awsrole

import (
	"fmt"
	"regexp"
	"strings"
)

// Allowlist is a set of role ARN globs (GITOPS_ALLOWED_ROLES): "*" matches any run of characters, "/"
// and ":" included; every other character matches itself. An empty Allowlist allows every role.
type Allowlist struct {
	globs []string
	re    *regexp.Regexp
}

// ParseAllowlist reads comma-separated ARN globs; blanks are dropped. A glob that cannot name a role
// (one not starting with "arn:") is an error.
func ParseAllowlist(list string) (Allowlist, error) {
	var a Allowlist
	var alts []string
	for _, g := range strings.Split(list, ",") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		if !strings.HasPrefix(g, "arn:") {
			return Allowlist{}, fmt.Errorf("GITOPS_ALLOWED_ROLES: %q is not a role ARN glob like arn:aws:iam::123456789012:role/gitops-*", g)
		}
		a.globs = append(a.globs, g)
		parts := strings.Split(g, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		alts = append(alts, strings.Join(parts, ".*"))
	}
	if len(alts) > 0 {
		a.re = regexp.MustCompile(`^(?:` + strings.Join(alts, "|") + `)$`)
	}
	return a, nil
}

// Allows reports whether roleARN matches one of the globs (always, for an empty Allowlist).
func (a Allowlist) Allows(roleARN string) bool { return a.re == nil || a.re.MatchString(roleARN) }

// String lists the globs as they were given.
func (a Allowlist) String() string { return strings.Join(a.globs, ",") }

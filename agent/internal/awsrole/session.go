package awsrole

import (
	"strconv"
	"strings"
)

// Session name limits of STS: 2 to 64 characters from [A-Za-z0-9_+=,.@-].
const (
	minSessionLen = 2
	maxSessionLen = 64
)

// fallbackSession names a session whose given name has nothing usable.
const fallbackSession = "gitops-agent"

// SessionName names the STS session of a run for project's merge request mr, e.g. "gitops-group-app-mr-42",
// so that CloudTrail shows which change acted. A long project path is cut so that the MR number stays.
func SessionName(project string, mr int) string {
	suffix := "-mr-" + strconv.Itoa(mr)
	head := SanitizeSession("gitops-" + project)
	if len(head)+len(suffix) > maxSessionLen {
		head = head[:maxSessionLen-len(suffix)]
	}
	return SanitizeSession(head + suffix)
}

// SanitizeSession makes s a valid STS role session name: every other character becomes '-', the result
// is cut to 64 characters, and one shorter than 2 characters is replaced by "gitops-agent".
func SanitizeSession(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() == maxSessionLen {
			break
		}
		if sessionChar(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() < minSessionLen {
		return fallbackSession
	}
	return b.String()
}

func sessionChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("_+=,.@-", r)
}

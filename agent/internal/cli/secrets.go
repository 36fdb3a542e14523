package cli

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxSecretFile bounds a secret file: a token, a URL or a list of project secrets.
const maxSecretFile = 64 << 10

// secretVar reads the secret variable name: its value, else the content of the file name_FILE names
// (surrounding whitespace trimmed). Setting both is an error; errors never quote the secret.
func secretVar(getenv func(string) string, name string) (string, error) {
	value, file := getenv(name), strings.TrimSpace(getenv(name+"_FILE"))
	switch {
	case file == "":
		return value, nil
	case value != "":
		return "", fmt.Errorf("%s and %s_FILE are both set: set one", name, name)
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	defer f.Close()
	b := make([]byte, maxSecretFile+1)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return "", fmt.Errorf("%s_FILE %s: empty or unreadable: %w", name, file, err)
	}
	if n > maxSecretFile {
		return "", fmt.Errorf("%s_FILE %s: over %d bytes", name, file, maxSecretFile)
	}
	return strings.TrimSpace(string(b[:n])), nil
}

// projectSecrets parses GITOPS_WEBHOOK_SECRETS: "group/project=secret" entries separated by commas or
// line breaks. Errors name the entry's project, never a secret.
func projectSecrets(v string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, entry := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		project, secret, ok := strings.Cut(entry, "=")
		project, secret = strings.TrimSpace(project), strings.TrimSpace(secret)
		switch {
		case !ok || project == "":
			errs = append(errs, errors.New("GITOPS_WEBHOOK_SECRETS: an entry is not project=secret"))
		case secret == "":
			errs = append(errs, fmt.Errorf("GITOPS_WEBHOOK_SECRETS: project %q has an empty secret", project))
		case out[project] != "":
			errs = append(errs, fmt.Errorf("GITOPS_WEBHOOK_SECRETS: project %q is listed twice", project))
		default:
			out[project] = secret
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, errors.Join(errs...)
}

// secretMask is what secretSet.Mask writes in place of a secret of the agent.
const secretMask = "[masked]"

// minMasked is the length, in characters, from which a secret of the agent is masked: shorter values
// would mask ordinary text and hide nothing worth hiding.
const minMasked = 4

// awsSecretVars are the variables of the agent's own AWS credentials (read by the AWS SDK, not by
// readSettings) that secretSet masks.
var awsSecretVars = []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"}

// secretSet masks the agent's own secrets in text it writes to merge requests: the GitLab token, the
// webhook secret and every project's own one, DATABASE_URL and its password, the AWS external id, and the
// agent's AWS credentials (awsSecretVars). It holds them only inside a strings.Replacer, so printing a
// secretSet shows none; it is safe for concurrent use. The zero value and nil mask nothing.
type secretSet struct {
	r *strings.Replacer
}

// newSecretSet returns the secretSet of s and of the AWS variables getenv returns. Values shorter than
// minMasked characters are left out; a value that reads differently in a URL (percent-encoded) is masked
// in both forms.
func newSecretSet(s settings, getenv func(string) string) *secretSet {
	values := []string{s.GitLabToken, s.WebhookSecret, s.DatabaseURL, s.AWSExternalID}
	for _, v := range s.ProjectSecrets {
		values = append(values, v)
	}
	if u, err := url.Parse(s.DatabaseURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			values = append(values, pw)
		}
		if i := strings.LastIndex(u.User.String(), ":"); i >= 0 {
			values = append(values, u.User.String()[i+1:]) // the password as the URL writes it
		}
	}
	for _, name := range awsSecretVars {
		values = append(values, strings.TrimSpace(getenv(name)))
	}
	seen := map[string]bool{}
	for _, v := range values {
		if utf8.RuneCountInString(v) < minMasked {
			continue
		}
		seen[v] = true
		seen[url.QueryEscape(v)] = true
		seen[url.PathEscape(v)] = true
	}
	sorted := make([]string, 0, len(seen))
	for v := range seen {
		sorted = append(sorted, v)
	}
	// Longer secrets first, so one that contains another (DATABASE_URL its password) is masked whole.
	slices.SortFunc(sorted, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	pairs := make([]string, 0, 2*len(sorted))
	for _, v := range sorted {
		pairs = append(pairs, v, secretMask)
	}
	return &secretSet{r: strings.NewReplacer(pairs...)}
}

// Mask returns text with every occurrence of each secret replaced by "[masked]".
func (m *secretSet) Mask(text string) string {
	if m == nil || m.r == nil {
		return text
	}
	return m.r.Replace(text)
}

package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
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

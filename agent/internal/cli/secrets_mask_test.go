package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSecretSetMask(t *testing.T) {
	t.Parallel()
	s := settings{
		GitLabToken:    "glpat-AbCdEf123456",
		WebhookSecret:  "hook-secret-1",
		ProjectSecrets: map[string]string{"group/api": "api-hook-secret", "group/web": "abc"},
		DatabaseURL:    "postgres://agent:p%40ss%2Fw0rd@db.internal:5432/gitops",
		AWSExternalID:  "ext-id-42",
	}
	env := map[string]string{
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN":     "FwoGZXIvYXdzEBYaDH+token/with==",
		"AWS_ACCESS_KEY_ID":     "AKIAIOSFODNN7EXAMPLE",
		"AWS_REGION":            "eu-west-1",
	}
	m := newSecretSet(s, func(k string) string { return env[k] })
	tests := []struct {
		name, in, want string
	}{
		{
			name: "token in a URL and a header",
			in:   "git clone https://oauth2:glpat-AbCdEf123456@gitlab.example.com/x.git\nPRIVATE-TOKEN: glpat-AbCdEf123456",
			want: "git clone https://oauth2:[masked]@gitlab.example.com/x.git\nPRIVATE-TOKEN: [masked]",
		},
		{
			name: "webhook secrets, a project's own included",
			in:   "X-Gitlab-Token: hook-secret-1 or api-hook-secret",
			want: "X-Gitlab-Token: [masked] or [masked]",
		},
		{
			name: "a secret under four characters is left alone",
			in:   "abc is in every alphabet",
			want: "abc is in every alphabet",
		},
		{
			name: "database URL whole, its password decoded or as written",
			in:   "connect postgres://agent:p%40ss%2Fw0rd@db.internal:5432/gitops: failed\npassword p@ss/w0rd, p%40ss%2Fw0rd",
			want: "connect [masked]: failed\npassword [masked], [masked]",
		},
		{
			name: "AWS external id and credentials; the region is no secret",
			in:   "ExternalId=ext-id-42 key AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY token FwoGZXIvYXdzEBYaDH+token/with== in eu-west-1",
			want: "ExternalId=[masked] key [masked]:[masked] token [masked] in eu-west-1",
		},
		{
			name: "a secret percent-encoded in a URL",
			in:   "https://x/?token=FwoGZXIvYXdzEBYaDH%2Btoken%2Fwith%3D%3D",
			want: "https://x/?token=[masked]",
		},
		{name: "nothing secret", in: "Plan: 1 to add", want: "Plan: 1 to add"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, m.Mask(tt.in)); diff != "" {
				t.Errorf("Mask (-want +got):\n%s", diff)
			}
		})
	}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		printed := fmt.Sprintf(verb, m)
		for _, secret := range []string{"glpat-AbCdEf123456", "hook-secret-1", "p@ss/w0rd", "AKIAIOSFODNN7EXAMPLE"} {
			if strings.Contains(printed, secret) {
				t.Errorf("Sprintf(%q) of the secret set shows %q", verb, secret)
			}
		}
	}
}

func TestSecretSetEmpty(t *testing.T) {
	t.Parallel()
	const text = "nothing to mask: glpat-x"
	for name, m := range map[string]*secretSet{
		"nil":         nil,
		"zero":        {},
		"no settings": newSecretSet(settings{}, func(string) string { return "" }),
		"all short":   newSecretSet(settings{GitLabToken: "ab", WebhookSecret: "xyz"}, func(string) string { return " a " }),
	} {
		if got := m.Mask(text); got != text {
			t.Errorf("%s: Mask changed the text to %q", name, got)
		}
	}
}

// TestSecretSetFromEnvironment reads the secrets as serve does, from the environment through
// readSettings, files included.
func TestSecretSetFromEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"GITLAB_TOKEN":           "glpat-from-env-0001",
		"GITLAB_WEBHOOK_SECRET":  "webhook-from-env",
		"GITOPS_WEBHOOK_SECRETS": "a/b=project-secret-1\nc/d=project-secret-2",
		"DATABASE_URL":           "postgres://u:dbpass-123@localhost/db",
		"GITOPS_AWS_EXTERNAL_ID": "external-77",
		"AWS_SESSION_TOKEN":      "session-token-xyz",
	}
	getenv := func(k string) string { return env[k] }
	s, err := readSettings(getenv, serving)
	if err != nil {
		t.Fatalf("readSettings: %v", err)
	}
	m := newSecretSet(s, getenv)
	var all []string
	for _, k := range []string{"GITLAB_TOKEN", "GITLAB_WEBHOOK_SECRET", "DATABASE_URL", "GITOPS_AWS_EXTERNAL_ID", "AWS_SESSION_TOKEN"} {
		all = append(all, env[k])
	}
	all = append(all, "project-secret-1", "project-secret-2", "dbpass-123")
	for _, secret := range all {
		if got := m.Mask("<" + secret + ">"); got != "<[masked]>" {
			t.Errorf("Mask(<%s>) = %q", secret, got)
		}
	}
}

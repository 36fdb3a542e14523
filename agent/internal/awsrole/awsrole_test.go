package awsrole

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The agent's own identity in these tests.
const (
	agentKeyID  = "AKIDAGENTTESTKEY0001"
	agentSecret = "agent-secret-key/DO-NOT-LEAK+0123456789"
	roleARN     = "arn:aws:iam::123456789012:role/gitops-deploy"
)

// printEnvHelper, when set, makes the test binary print its AWS_ variables and exit: the subprocess a
// Terraform run would be.
const printEnvHelper = "GITOPS_AWSROLE_PRINT_ENV"

func TestMain(m *testing.M) {
	if os.Getenv(printEnvHelper) != "" {
		var vars []string
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "AWS_") {
				vars = append(vars, kv)
			}
		}
		sort.Strings(vars)
		fmt.Println(strings.Join(vars, "\n"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// agentEnv gives the process the agent's static credentials and isolates it from any AWS configuration
// of the machine.
func agentEnv(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           agentKeyID,
		"AWS_SECRET_ACCESS_KEY":       agentSecret,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_STS":        "",
		"AWS_ROLE_ARN":                "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

func newAssumer(t testing.TB, opts Options) *Assumer {
	t.Helper()
	a, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func TestEnvAssumesTheRole(t *testing.T) {
	cases := []struct {
		name        string
		opts        Options
		session     string
		wantEnv     Env
		wantRequest assumeRequest
	}{
		{
			name:    "region, external id, default duration",
			opts:    Options{Region: "eu-west-1", ExternalID: "ext-id-42"},
			session: SessionName("group/app", 42),
			wantEnv: Env{
				"AWS_ACCESS_KEY_ID": issuedCredentials(1).AccessKeyID, "AWS_SECRET_ACCESS_KEY": issuedCredentials(1).SecretAccessKey,
				"AWS_SESSION_TOKEN": issuedCredentials(1).SessionToken, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
			},
			wantRequest: assumeRequest{Caller: agentKeyID, Region: "eu-west-1", RoleArn: roleARN,
				RoleSessionName: "gitops-group-app-mr-42", ExternalID: "ext-id-42", HasExternalID: true, DurationSeconds: "3600"},
		},
		{
			name:    "no region, no external id, two hours",
			opts:    Options{Duration: 2 * time.Hour},
			session: "deploy of group/app !7 (prod)",
			wantEnv: Env{
				"AWS_ACCESS_KEY_ID": issuedCredentials(1).AccessKeyID, "AWS_SECRET_ACCESS_KEY": issuedCredentials(1).SecretAccessKey,
				"AWS_SESSION_TOKEN": issuedCredentials(1).SessionToken,
			},
			wantRequest: assumeRequest{Caller: agentKeyID, Region: "us-east-1", RoleArn: roleARN,
				RoleSessionName: "deploy-of-group-app--7--prod-", DurationSeconds: "7200"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			agentEnv(t)
			sts := newFakeSTS(t, map[string]string{agentKeyID: agentSecret})
			c.opts.BaseEndpoint = sts.URL
			a := newAssumer(t, c.opts)
			env, err := a.Env(context.Background(), roleARN, c.session)
			if err != nil {
				t.Fatalf("Env: %v", err)
			}
			if diff := cmp.Diff(c.wantEnv, env); diff != "" {
				t.Errorf("Env (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]assumeRequest{c.wantRequest}, sts.received()); diff != "" {
				t.Errorf("STS received (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnvIsFreshForEachRun(t *testing.T) {
	agentEnv(t)
	sts := newFakeSTS(t, map[string]string{agentKeyID: agentSecret})
	a := newAssumer(t, Options{Region: "eu-west-1", BaseEndpoint: sts.URL})
	for n := 1; n <= 3; n++ {
		env, err := a.Env(context.Background(), roleARN, "run")
		if err != nil {
			t.Fatalf("Env #%d: %v", n, err)
		}
		if got, want := env[EnvAccessKeyID], issuedCredentials(n).AccessKeyID; got != want {
			t.Errorf("run %d got access key %s, want %s (a fresh assumption)", n, got, want)
		}
	}
	if got := len(sts.received()); got != 3 {
		t.Errorf("STS saw %d AssumeRole calls, want 3", got)
	}
}

func TestSubprocessGetsTheAssumedCredentials(t *testing.T) {
	agentEnv(t)
	sts := newFakeSTS(t, map[string]string{agentKeyID: agentSecret})
	a := newAssumer(t, Options{Region: "eu-central-1", ExternalID: "x", BaseEndpoint: sts.URL})
	env, err := a.Env(context.Background(), roleARN, SessionName("group/app", 3))
	if err != nil {
		t.Fatalf("Env: %v", err)
	}
	// The run's environment: its own variables, then the role's, which win over the agent's.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), printEnvHelper+"=1"), env.Environ()...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("subprocess: %v", err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		if _, ours := env[k]; ours {
			got[k] = v
		}
	}
	creds := issuedCredentials(1)
	want := map[string]string{
		"AWS_ACCESS_KEY_ID": creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY": creds.SecretAccessKey, "AWS_SESSION_TOKEN": creds.SessionToken,
		"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-central-1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subprocess AWS environment (-want +got):\n%s", diff)
	}
}

func TestEnvErrors(t *testing.T) {
	cases := []struct {
		name      string
		role      string
		deny      string
		callers   map[string]string
		wantErr   []string
		wantCalls int
	}{
		{
			name: "access denied", role: roleARN, callers: map[string]string{agentKeyID: agentSecret},
			deny:      "User: arn:aws:iam::111111111111:user/agent is not authorized to perform: sts:AssumeRole on resource: " + roleARN,
			wantErr:   []string{"assume role " + roleARN, "AccessDenied", "is not authorized to perform: sts:AssumeRole"},
			wantCalls: 1,
		},
		{
			name: "agent credentials unknown to STS", role: roleARN, callers: map[string]string{"AKIDSOMEONEELSE": "x"},
			wantErr: []string{"assume role " + roleARN, "SignatureDoesNotMatch"},
		},
		{
			name: "request signed with another secret", role: roleARN, callers: map[string]string{agentKeyID: "not-the-agent-secret"},
			wantErr: []string{"assume role " + roleARN, "SignatureDoesNotMatch"},
		},
		{name: "not an ARN", role: "gitops-deploy", wantErr: []string{"role ARN \"gitops-deploy\"", "invalid prefix"}},
		{name: "not a role", role: "arn:aws:iam::123456789012:user/bob", wantErr: []string{"is not an IAM role"}},
		{name: "not iam", role: "arn:aws:s3:::bucket", wantErr: []string{"is not an IAM role"}},
		{name: "role without name", role: "arn:aws:iam::123456789012:role/", wantErr: []string{"is not an IAM role"}},
		{name: "huge", role: "arn:aws:iam::123456789012:role/" + strings.Repeat("r", 3000), wantErr: []string{"longer than 2048"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			agentEnv(t)
			sts := newFakeSTS(t, c.callers)
			if c.deny != "" {
				sts.setDeny(c.deny)
			}
			a := newAssumer(t, Options{Region: "eu-west-1", ExternalID: "ext-secret-ish", BaseEndpoint: sts.URL})
			env, err := a.Env(context.Background(), c.role, "s")
			if err == nil {
				t.Fatalf("Env succeeded: %v", env)
			}
			for _, want := range c.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), agentSecret) || strings.Contains(err.Error(), "ext-secret-ish") {
				t.Errorf("error reveals a secret: %v", err)
			}
			if got := len(sts.received()); got != c.wantCalls {
				t.Errorf("STS accepted %d AssumeRole calls, want %d", got, c.wantCalls)
			}
		})
	}
}

func TestNewRefusesBadDuration(t *testing.T) {
	agentEnv(t)
	for _, d := range []time.Duration{time.Minute, 14 * time.Minute, 13 * time.Hour, -time.Hour} {
		if _, err := New(context.Background(), Options{Duration: d}); err == nil || !strings.Contains(err.Error(), "must be from 15m0s to 12h0m0s") {
			t.Errorf("New(Duration: %v) = %v, want a duration error", d, err)
		}
	}
	for _, d := range []time.Duration{0, MinDuration, MaxDuration} {
		if _, err := New(context.Background(), Options{Duration: d}); err != nil {
			t.Errorf("New(Duration: %v): %v", d, err)
		}
	}
}

func TestEnvNeverPrintsCredentials(t *testing.T) {
	creds := issuedCredentials(1)
	env := Env{EnvAccessKeyID: creds.AccessKeyID, EnvSecretAccessKey: creds.SecretAccessKey, EnvSessionToken: creds.SessionToken, EnvRegion: "eu-west-1"}
	js, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := json.Marshal(struct{ Env Env }{env})
	if err != nil {
		t.Fatal(err)
	}
	renderings := map[string]string{
		"%v": fmt.Sprintf("%v", env), "%+v": fmt.Sprintf("%+v", env), "%#v": fmt.Sprintf("%#v", env),
		"%s": fmt.Sprintf("%s", env), "%q": fmt.Sprintf("%q", env), "%x": fmt.Sprintf("%x", env),
		"json": string(js), "json in a struct": string(wrapped),
	}
	for how, s := range renderings {
		for _, secret := range []string{creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken} {
			if strings.Contains(s, secret) {
				t.Errorf("%s rendering reveals a credential: %s", how, s)
			}
		}
	}
	if want := "AWS_ACCESS_KEY_ID=[redacted] AWS_REGION=eu-west-1 AWS_SECRET_ACCESS_KEY=[redacted] AWS_SESSION_TOKEN=[redacted]"; env.String() != want {
		t.Errorf("String() = %q, want %q", env.String(), want)
	}
	// It is still a plain map for the code that runs the subprocess.
	var plain map[string]string = env
	if plain[EnvSecretAccessKey] != creds.SecretAccessKey {
		t.Errorf("the map lost its value")
	}
	if diff := cmp.Diff([]string{
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID, "AWS_REGION=eu-west-1",
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey, "AWS_SESSION_TOKEN=" + creds.SessionToken,
	}, env.Environ()); diff != "" {
		t.Errorf("Environ (-want +got):\n%s", diff)
	}
}

func TestEnvRetriesThrottling(t *testing.T) {
	agentEnv(t)
	sts := newFakeSTS(t, map[string]string{agentKeyID: agentSecret})
	a := newAssumer(t, Options{Region: "eu-west-1", BaseEndpoint: sts.URL})

	sts.throttleNext(1)
	env, err := a.Env(context.Background(), roleARN, "run")
	if err != nil {
		t.Fatalf("Env after one Throttling answer: %v", err)
	}
	if got, want := env[EnvAccessKeyID], issuedCredentials(1).AccessKeyID; got != want {
		t.Errorf("access key = %s, want %s", got, want)
	}
	if got := sts.attempts(); got != 2 {
		t.Errorf("STS saw %d AssumeRole calls, want 2 (one throttled, one retried)", got)
	}

	if got := Retryer().MaxAttempts(); got != MaxAttempts {
		t.Errorf("Retryer().MaxAttempts() = %d, want %d", got, MaxAttempts)
	}
}

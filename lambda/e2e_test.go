package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/fakeaws"
)

var (
	buildOnce sync.Map // package dir -> *buildResult
	buildDir  string   // removed after the tests
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bootstrap")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// buildBinary builds the package in dir as a Lambda bootstrap (lambda.norpc, stripped), once per test
// binary run.
func buildBinary(t testing.TB, dir string) string {
	t.Helper()
	v, _ := buildOnce.LoadOrStore(dir, &buildResult{})
	br := v.(*buildResult)
	br.once.Do(func() {
		br.path = filepath.Join(buildDir, strings.NewReplacer("/", "_", ".", "_").Replace(dir), "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", br.path, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			br.err = fmt.Errorf("go build: %v\n%s", err, b)
		}
	})
	if br.err != nil {
		t.Fatal(br.err)
	}
	return br.path
}

// emulator is a running RIE with a bootstrap inside.
type emulator struct{ *testsvc.Emulator }

// invoke sends one event and decodes the function's answer.
func (e *emulator) invoke(t testing.TB, event []byte) map[string]any {
	t.Helper()
	resp, err := http.Post(e.URL, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("invoke answer %q: %v\nlogs:\n%s", b, err, e.Logs())
	}
	return out
}

// functionEnv is the environment of the function under test: real Postgres (migrated with the
// binary's own migrate command) and Redis, fake S3.
func functionEnv(t testing.TB, bootstrap string) []string {
	t.Helper()
	dbURL := testsvc.Postgres(t)
	redisURL, prefix := testsvc.Redis(t)
	s3 := fakeaws.NewS3(t, "docs")
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + dbURL, "REDIS_URL=" + redisURL, "CACHE_PREFIX=" + prefix,
		"BUCKET=docs", "S3_FORCE_PATH_STYLE=true", "AWS_ENDPOINT_URL_S3=" + s3.URL,
		"AWS_REGION=" + fakeaws.Region, "AWS_ACCESS_KEY_ID=" + fakeaws.AccessKey, "AWS_SECRET_ACCESS_KEY=" + fakeaws.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "LOG_LEVEL=info",
	}
	cmd := exec.Command(bootstrap, "migrate")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "migrations applied: [1]") {
		t.Fatalf("bootstrap migrate: %v\n%s", err, out)
	}
	return env
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("internal", "gateway", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBootstrapInTheLambdaRuntime(t *testing.T) {
	rie := testsvc.RIE(t)
	bootstrap := buildBinary(t, ".")
	emu := emulator{testsvc.StartRIE(t, rie, bootstrap, functionEnv(t, bootstrap))}

	created := emu.invoke(t, fixture(t, "rest-create.json"))
	if created["statusCode"] != float64(201) {
		t.Fatalf("create through REST event: %v\nlogs:\n%s", created, emu.Logs())
	}
	var body struct {
		Document struct{ ID, State string } `json:"document"`
		Upload   struct{ Type string }      `json:"upload"`
	}
	if err := json.Unmarshal([]byte(created["body"].(string)), &body); err != nil || body.Document.State != "pending" || body.Upload.Type != "single" {
		t.Fatalf("create answer %v (%v)", created["body"], err)
	}

	got := emu.invoke(t, bytes.ReplaceAll(fixture(t, "rest-get.json"), []byte("__ID__"), []byte(body.Document.ID)))
	if got["statusCode"] != float64(200) || !strings.Contains(got["body"].(string), body.Document.ID) {
		t.Errorf("get through REST event: %v", got)
	}
	list := emu.invoke(t, fixture(t, "httpapi-list.json"))
	if list["statusCode"] != float64(200) || !strings.Contains(list["body"].(string), body.Document.ID) {
		t.Errorf("list through HTTP API event: %v", list)
	}
	staged := emu.invoke(t, fixture(t, "httpapi-stage-create.json"))
	if staged["statusCode"] != float64(201) {
		t.Errorf("create through a staged HTTP API event with a base64 body: %v", staged)
	}
	missing := emu.invoke(t, bytes.ReplaceAll(fixture(t, "rest-get.json"), []byte("__ID__"), []byte("nope")))
	if missing["statusCode"] != float64(404) {
		t.Errorf("unknown id: %v", missing)
	}
	if m := emu.invoke(t, []byte(`{"command":"migrate"}`)); fmt.Sprint(m["applied"]) != "[]" {
		t.Errorf("direct migrate invocation: %v, want nothing left to apply", m)
	}

	logs := emu.Logs()
	if !strings.Contains(logs, `"request_id":"deef4878-7910-11e6-8f14-25afc3e9ae33"`) || !strings.Contains(logs, `"route":"/v1/documents"`) {
		t.Errorf("request logs lack the API Gateway request id or route:\n%s", logs)
	}
	if strings.Contains(logs, "report.pdf") || strings.Contains(logs, fakeaws.SecretKey) {
		t.Errorf("logs contain a request body or a secret:\n%s", logs)
	}
}

// TestBootstrapSize keeps the deployed binary (built as the README says) under 20 MB: a larger package
// slows every cold start's code download.
func TestBootstrapSize(t *testing.T) {
	fi, err := os.Stat(buildBinary(t, "."))
	if err != nil {
		t.Fatal(err)
	}
	const limit = 20 << 20
	if fi.Size() > limit {
		t.Errorf("bootstrap is %.1f MiB, over the %d MiB budget", float64(fi.Size())/(1<<20), limit>>20)
	}
	t.Logf("bootstrap: %.1f MiB", float64(fi.Size())/(1<<20))
}

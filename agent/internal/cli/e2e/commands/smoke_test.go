package commands_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"gopkg.in/yaml.v3"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// smokeFunction is the function of the repository's .gitops.yaml whose smoke event is proven here.
const smokeFunction = "documents"

// TestSmokeEventAnswers2xxInTheLambdaRuntime builds the repository's function with `release build`, as a
// release does (for this machine's architecture: the repo's is arm64), runs its bootstrap under the
// Lambda Runtime Interface Emulator with a real PostgreSQL and Redis, and invokes it with the smoke event
// .gitops.yaml names. The answer must be what lets a release go on, and more: no function error, and an
// API Gateway proxy response with a 2xx status and the /healthz body.
func TestSmokeEventAnswers2xxInTheLambdaRuntime(t *testing.T) {
	began := time.Now()
	rie := testsvc.RIE(t)
	dbURL := testsvc.Postgres(t)
	redisURL, prefix := testsvc.Redis(t)

	repo := testsvc.RepoRoot(t)
	cfg, err := config.Load(repo)
	if err != nil {
		t.Fatalf("the repository's .gitops.yaml: %v", err)
	}
	fn, ok := cfg.Function(smokeFunction)
	if !ok || fn.Smoke == "" {
		t.Fatalf(".gitops.yaml: function %q with a smoke event: found %v, smoke %q", smokeFunction, ok, fn.Smoke)
	}
	event, err := os.ReadFile(filepath.Join(repo, fn.Smoke))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayProxyRequest
	if err := json.Unmarshal(event, &req); err != nil || req.HTTPMethod == "" || !strings.HasPrefix(req.Path, "/") {
		t.Fatalf("%s is not an API Gateway REST proxy event: method %q, path %q (%v)", fn.Smoke, req.HTTPMethod, req.Path, err)
	}

	arch := map[string]string{"amd64": config.ArchX86_64, "arm64": config.ArchARM64}[runtime.GOARCH]
	if arch == "" {
		testsvc.Unavailable(t, "Lambda has no architecture for this machine's GOARCH "+runtime.GOARCH+": the function cannot run here")
	}
	tree := smokeTree(t, repo, cfg, fn, arch)
	out := t.TempDir()
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"), "GOPROXY": "off"}
	built := time.Now()
	code, stdout, stderr := runCLI(t, env, "release", "build", "--repo", tree, "--function", fn.Name, "--out", out)
	if code != cli.ExitOK {
		t.Fatalf("release build: exit %d: %s", code, stderr)
	}
	fields := strings.Split(strings.TrimSpace(stdout), "\t")
	if len(fields) != 5 || fields[0] != fn.Name || fields[1] != arch {
		t.Fatalf("release build printed %q", stdout)
	}
	t.Logf("release build: %s %s in %s", fields[1], fields[3], time.Since(built).Round(time.Millisecond))
	bootstrap := unzipBootstrap(t, fields[4])

	emu := testsvc.StartRIE(t, rie, bootstrap, []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + dbURL, "REDIS_URL=" + redisURL, "CACHE_PREFIX=" + prefix, "BUCKET=docs",
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "LOG_LEVEL=info",
	})
	invoked := time.Now()
	resp, err := http.Post(emu.URL, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	payload, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	t.Logf("smoke invocation (cold start included): %s", time.Since(invoked).Round(time.Millisecond))
	if resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Header.Get("X-Amz-Function-Error") != "" {
		t.Fatalf("invoke: status %d, function error %q: %s\nlogs:\n%s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), payload, emu.Logs())
	}
	var fnErr struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(payload, &fnErr) == nil && (fnErr.ErrorType != "" || fnErr.ErrorMessage != "") {
		t.Fatalf("function error %s: %s\nlogs:\n%s", fnErr.ErrorType, fnErr.ErrorMessage, emu.Logs())
	}

	var proxy events.APIGatewayProxyResponse
	if err := json.Unmarshal(payload, &proxy); err != nil {
		t.Fatalf("the answer %q is not an API Gateway proxy response: %v", payload, err)
	}
	if proxy.StatusCode < 200 || proxy.StatusCode > 299 {
		t.Fatalf("proxy response status %d: %s\nlogs:\n%s", proxy.StatusCode, proxy.Body, emu.Logs())
	}
	if ct := http.Header(proxy.MultiValueHeaders).Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if proxy.IsBase64Encoded {
		t.Errorf("a JSON body came base64-encoded")
	}
	var health map[string]string
	if err := json.Unmarshal([]byte(proxy.Body), &health); err != nil {
		t.Fatalf("body %q: %v", proxy.Body, err)
	}
	if keys := slices.Sorted(maps.Keys(health)); !slices.Equal(keys, []string{"cache", "database", "status"}) ||
		health["status"] != "ok" || health["database"] != "ok" || health["cache"] != "ok" {
		t.Errorf("body %s, want {\"status\":\"ok\",\"database\":\"ok\",\"cache\":\"ok\"}", proxy.Body)
	}
	if logs := emu.Logs(); !strings.Contains(logs, `"request_id":"`+req.RequestContext.RequestID+`"`) {
		t.Errorf("the function's logs lack the smoke event's request id %s:\n%s", req.RequestContext.RequestID, logs)
	}
	t.Logf("whole test: %s", time.Since(began).Round(time.Millisecond))
}

// smokeTree is the tree a release of fn builds from, as a merge commit's archive holds it (the module
// files, the function's package, its smoke event) with the repository's .gitops.yaml, fn built for
// arch. The stack and policy dirs it names are there, empty, so that the file loads.
func smokeTree(t *testing.T, repo string, cfg *config.Config, fn config.Function, arch string) string {
	t.Helper()
	tree := t.TempDir()
	if err := os.CopyFS(filepath.Join(tree, fn.Package), os.DirFS(filepath.Join(repo, fn.Package))); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go.mod", "go.sum", fn.Smoke} {
		data, err := os.ReadFile(filepath.Join(repo, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dirs := slices.Clone(cfg.Policies)
	for _, s := range cfg.Stacks {
		dirs = append(dirs, s.Dir)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(repo, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !setArchitecture(&doc, fn.Name, arch) {
		t.Fatalf("%s: no function %q to set the architecture of", config.FileName, fn.Name)
	}
	if data, err = yaml.Marshal(&doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, config.FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return tree
}

// setArchitecture sets the architecture of the function named name in a parsed .gitops.yaml.
func setArchitecture(doc *yaml.Node, name, arch string) bool {
	if len(doc.Content) != 1 {
		return false
	}
	fns := mappingValue(doc.Content[0], "functions")
	if fns == nil || fns.Kind != yaml.SequenceNode {
		return false
	}
	for _, f := range fns.Content {
		if n := mappingValue(f, "name"); n == nil || n.Value != name {
			continue
		}
		if a := mappingValue(f, "architecture"); a != nil {
			a.Value = arch
		} else {
			f.Content = append(f.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Value: "architecture"}, &yaml.Node{Kind: yaml.ScalarNode, Value: arch})
		}
		return true
	}
	return false
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// unzipBootstrap checks that the release zip holds exactly an executable bootstrap and writes it to a
// temp dir.
func unzipBootstrap(t *testing.T, zipPath string) string {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm()&0o111 == 0 {
		names := make([]string, 0, len(zr.File))
		for _, f := range zr.File {
			names = append(names, f.Name+" "+f.Mode().String())
		}
		t.Fatalf("the release zip holds %q: want one executable bootstrap", names)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	bin, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bootstrap")
	testsvc.WriteExecutable(t, path, bin)
	return path
}

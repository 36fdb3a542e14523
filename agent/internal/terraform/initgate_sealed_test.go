package terraform_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox/sandboxtest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/terraform"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// providerMirror serves providers example.com/test/NAME 1.0.0 by Terraform's provider network mirror
// protocol (index.json, 1.0.0.json, the package zip). After rendezvous, index requests wait (at most
// 20 s each) until index requests for two different providers have come, and met records whether they
// did: one init asks for its own providers only, so two inits met only if they ran at the same time.
type providerMirror struct {
	*httptest.Server
	mu    sync.Mutex
	on    bool
	names map[string]bool // the providers whose index was asked for during the rendezvous
	met   bool
	both  chan struct{}
}

func newProviderMirror(t *testing.T) *providerMirror {
	t.Helper()
	m := &providerMirror{}
	platform := runtime.GOOS + "_" + runtime.GOARCH
	m.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/providers/example.com/test/"), "/")
		if len(parts) != 2 {
			http.NotFound(w, r)
			return
		}
		name := parts[0]
		if strings.HasSuffix(parts[1], ".json") {
			w.Header().Set("Content-Type", "application/json")
		}
		switch parts[1] {
		case "index.json":
			m.meet(name)
			fmt.Fprint(w, `{"versions":{"1.0.0":{}}}`)
		case "1.0.0.json":
			fmt.Fprintf(w, `{"archives":{%q:{"url":"%s.zip"}}}`, platform, name)
		case name + ".zip":
			_, _ = w.Write(providerZip(t, name))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(m.Close)
	return m
}

// rendezvous starts a rendezvous of two inits.
func (m *providerMirror) rendezvous() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on, m.names, m.met, m.both = true, map[string]bool{}, false, make(chan struct{})
}

// meet takes part in the rendezvous, if one is on, for provider name.
func (m *providerMirror) meet(name string) {
	m.mu.Lock()
	if !m.on {
		m.mu.Unlock()
		return
	}
	m.names[name] = true
	both := m.both
	if len(m.names) == 2 {
		m.on, m.met = false, true
		close(both)
	}
	m.mu.Unlock()
	select {
	case <-both:
	case <-time.After(20 * time.Second):
	}
}

// providerZip is a provider package: one executable that is no provider (init never runs it).
func providerZip(t *testing.T, name string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "terraform-provider-" + name + "_v1.0.0", Method: zip.Deflate}
	h.SetMode(0o755)
	f, err := zw.CreateHeader(h)
	if err == nil {
		_, err = f.Write([]byte("#!/bin/sh\nexit 1\n"))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Error(err)
	}
	return buf.Bytes()
}

// requiring is a stack that requires the providers example.com/test/NAME of names, with lockFile (when not
// empty) as its dependency lock file, in a new dir under root.
func requiring(t *testing.T, root string, lockFile []byte, names ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp(root, "work-")
	if err != nil {
		t.Fatal(err)
	}
	var req strings.Builder
	for _, n := range names {
		fmt.Fprintf(&req, "    %s = { source = \"example.com/test/%s\", version = \"1.0.0\" }\n", n, n)
	}
	mainTF := "terraform {\n  required_providers {\n" + req.String() + "  }\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(mainTF), 0o644); err != nil {
		t.Fatal(err)
	}
	if lockFile != nil {
		if err := os.WriteFile(filepath.Join(dir, ".terraform.lock.hcl"), lockFile, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tree lists every path under dir with its size and modification time.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s\n", p, fi.Size(), fi.ModTime())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestInitsThatOnlyReadTheCacheRunTogether: with a sealed runner (uid mode: its runs reach the mirror on
// the host's loopback), the first init of a stack installs its provider into the plugin cache alone;
// then two stacks whose lock files name only providers in the cache init at the same time (the mirror
// sees both inits' requests in flight at once) and leave the cache as it was; a stack needing a provider
// its lock file does not name fails to install it into the cache its run cannot write, inits again with
// the cache lent, and installs it.
func TestInitsThatOnlyReadTheCacheRunTogether(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.New(t, sandbox.UID)
	searchable := sandboxtest.SearchableDir(t)
	mirror := newProviderMirror(t)
	certFile := filepath.Join(searchable, "mirror.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mirror.Certificate().Raw})
	if err := os.WriteFile(certFile, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := terraform.NewRunner(terraform.Options{
		Binary: testsvc.Terraform(t), DataDir: t.TempDir(), Sandbox: sandboxtest.Sealer(sb),
		CacheDir: filepath.Join(searchable, "terraform"), ProviderMirror: mirror.URL + "/providers/",
	})
	if err != nil {
		t.Fatal(err)
	}
	root := sb.WorkRoot()
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	env := map[string]string{"SSL_CERT_FILE": certFile}
	open := func(dir string) error {
		w, err := r.Open(ctx, terraform.Request{Dir: dir, Env: env, ReadOnly: true})
		if err != nil {
			return fmt.Errorf("%w\n%s", err, diagnosticsOf(err))
		}
		return w.Close()
	}

	locks := map[string][]byte{}
	for _, name := range []string{"fake", "fakeb"} {
		first := requiring(t, root, nil, name)
		if err := open(first); err != nil {
			t.Fatalf("first init of %s: %v", name, err)
		}
		if locks[name], err = os.ReadFile(filepath.Join(first, ".terraform.lock.hcl")); err != nil {
			t.Fatalf("the first init of %s wrote no lock file: %v", name, err)
		}
	}
	cache := r.PluginCache(true)
	before := tree(t, cache)
	if !strings.Contains(before, "terraform-provider-fake_v1.0.0") || !strings.Contains(before, "terraform-provider-fakeb_v1.0.0") {
		t.Fatalf("the first inits did not put their providers in the cache:\n%s", before)
	}

	mirror.rendezvous()
	errs := make(chan error, 2)
	for _, name := range []string{"fake", "fakeb"} {
		dir := requiring(t, root, locks[name], name)
		go func() { errs <- open(dir) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("init of a locked, cached stack: %v", err)
		}
	}
	mirror.mu.Lock()
	met := mirror.met
	mirror.mu.Unlock()
	if !met {
		t.Error("the two inits of locked, cached stacks ran one after the other")
	}
	if after := tree(t, cache); after != before {
		t.Errorf("inits that only read the cache changed it:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	more := requiring(t, root, locks["fake"], "fake", "fake2")
	if err := open(more); err != nil {
		t.Fatalf("init of a stack needing a provider its lock file does not name: %v", err)
	}
	if !strings.Contains(tree(t, cache), "terraform-provider-fake2_v1.0.0") {
		t.Error("the init that needed another provider did not install it into the cache")
	}
}

func diagnosticsOf(err error) string {
	var e *terraform.Error
	if errors.As(err, &e) {
		return e.Diagnostics
	}
	return ""
}

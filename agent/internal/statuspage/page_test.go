package statuspage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// serve mounts the page as the admin listener does.
func serve(t *testing.T, p *Page) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", p.Index())
	mux.Handle("GET /runs/{id}", p.Run())
	mux.Handle("GET /runs/{id}/events", p.Events())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestEmptyLedger(t *testing.T) {
	srv := serve(t, &Page{Source: &source{}, Hub: &Hub{}})
	code, h, body := get(t, srv.URL+"/")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", code, h.Get("Content-Type"))
	}
	mustContain(t, body, "Nothing deployed yet", "No terraform run is going on")
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src "+scriptHash) || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestGrid(t *testing.T) {
	srv := serve(t, fixturePage(fixture(), &Hub{}))
	code, _, body := get(t, srv.URL+"/")
	if code != http.StatusOK {
		t.Fatalf("GET / = %d:\n%s", code, body)
	}
	mustContain(t, body,
		// stages in promotion order
		`<th scope="col">dev</th><th scope="col">qa</th><th scope="col">staging</th><th scope="col">preprod</th><th scope="col">prod</th>`,
		// a live cell: short commit linked, MR linked, when
		`href="https://gitlab.example.com/platform/documents/-/commit/0000`+strings.Repeat("ab", 18)+`"`, ">0000abab<",
		`href="https://gitlab.example.com/platform/documents/-/merge_requests/40">!40</a>`, "applied 2026-12-05 14:30 UTC",
		// who merged it, and the deploy note of the promotion that put it there
		`applied 2026-12-05 14:30 UTC by <span class="by">@alice</span>`, `@`+longMerger+`<`,
		`<a class="note" href="https://gitlab.example.com/platform/documents/-/merge_requests/40#note_9040">deploy note</a>`,
		// a promotion whose note is not known links its merge request
		`<a class="note" href="https://gitlab.example.com/platform/documents/-/merge_requests/41">deploy note</a>`,
		// the canary and the released stages
		"v12 10% / v11 90%", `data-release="releasing"`, ">v12<",
		// drift
		`data-drift="drifted"`, "⚠ drifted", "update aws_s3_bucket.objects", "drift check failed", "1 drifted",
		// history, failures first, the agent's secret masked
		"token [masked] refused", "alarm api-errors fired",
		// the project with nothing recorded
		"empty/project", "Nothing live yet.",
	)
	if strings.Contains(body, agentSecret) {
		t.Error("the page shows the agent's secret")
	}
	hist := body[strings.Index(body, `<table class="history">`):]
	if first := strings.Index(hist, "<tr class=\"failed\">"); first < 0 || strings.Index(hist, "applied") < first {
		t.Errorf("history does not list its failures first:\n%s", hist[:min(len(hist), 2000)])
	}
	if got := strings.Count(body, `<tr data-stack=`); got != 10 {
		t.Errorf("%d stack rows, want 10", got)
	}
	if got, want := strings.Count(body, `<a class="note" href=`), 10*5+5; got != want {
		t.Errorf("%d deploy note links, want one per live cell and release cell (%d)", got, want)
	}
	if got, want := strings.Count(body, `#note_`), 9*5; got != want {
		t.Errorf("%d links to a note's anchor, want %d (all but !%d's)", got, want, noNoteMR)
	}
}

func TestHostileNamesAreEscaped(t *testing.T) {
	src := &source{projects: []string{`<script>alert(1)</script>`}, live: map[string][]gitops.Live{
		`<script>alert(1)</script>`: {{Stack: `"><img src=x onerror=alert(1)>`, Stage: "prod", Commit: "abc", MR: 1, AppliedAt: fixtureTime}},
	}}
	p := fixturePage(src, nil)
	p.CommitURL = func(string, string) string { return "javascript:alert(1)" }
	_, _, body := get(t, serve(t, p).URL+"/")
	for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`} {
		if strings.Contains(body, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
}

func TestBrokenProjectShowsItself(t *testing.T) {
	src := fixture()
	src.projects = append(src.projects, "broken/project")
	var logged []string
	p := fixturePage(src, nil)
	p.Error = func(msg string, err error) { logged = append(logged, msg+": "+err.Error()) }
	code, _, body := get(t, serve(t, p).URL+"/")
	if code != http.StatusOK {
		t.Fatalf("GET / = %d", code)
	}
	mustContain(t, body, "could not be read", "v12 10% / v11 90%")
	if len(logged) == 0 || strings.Contains(body, "database gone") {
		t.Errorf("logged %q; the page must say what failed without the error's details", logged)
	}
}

func TestRunPageAndEvents(t *testing.T) {
	hub := &Hub{Mask: maskAgent}
	ctx, end := context.WithCancel(context.Background())
	w := hub.Start(ctx, RunInfo{Project: fixtureProject, MR: 7, Stack: "api", Stage: "prod", Kind: "apply"})
	fmt.Fprint(w, "first line\nsecond <b>line</b>\n")
	srv := serve(t, fixturePage(&source{}, hub))
	id := hub.Runs()[0].ID

	code, _, body := get(t, srv.URL+"/runs/"+id)
	if code != http.StatusOK {
		t.Fatalf("GET /runs/%s = %d", id, code)
	}
	mustContain(t, body, "apply api in prod", "first line\nsecond &lt;b&gt;line&lt;/b&gt;\n", `data-events="/runs/`+id+`/events?after=2"`)
	_, _, index := get(t, srv.URL+"/")
	mustContain(t, index, `href="/runs/`+id+`"`, "second &lt;b&gt;line")

	req, _ := http.NewRequest("GET", srv.URL+"/runs/"+id+"/events", nil)
	req.Header.Set("Last-Event-ID", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	events := make(chan string, 100)
	go func() {
		defer close(events)
		var ev strings.Builder
		for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
			if sc.Text() == "" {
				events <- ev.String()
				ev.Reset()
				continue
			}
			ev.WriteString(sc.Text() + "|")
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5s")
			return ""
		}
	}
	if e := next(); e != "retry: 2000|" {
		t.Errorf("first event %q", e)
	}
	if e := next(); e != "id: 2|event: line|data: second <b>line</b>|" {
		t.Errorf("backlog after Last-Event-ID 1 = %q", e)
	}
	fmt.Fprint(w, "token glpat-AgentSecretToken123\n")
	if e := next(); e != "id: 3|event: line|data: token [masked]|" {
		t.Errorf("live line = %q", e)
	}
	end()
	if e := next(); e != "event: end|data: finished|" {
		t.Errorf("end event = %q", e)
	}

	if code, _, _ := get(t, srv.URL+"/runs/999"); code != http.StatusNotFound {
		t.Errorf("GET /runs/999 = %d, want 404", code)
	}
	if code, _, _ := get(t, srv.URL+"/runs/999/events"); code != http.StatusNotFound {
		t.Errorf("GET /runs/999/events = %d, want 404", code)
	}
}

// noNotes is a Source whose deploy notes cannot be read.
type noNotes struct{ *source }

func (noNotes) DeployNote(context.Context, string, int, string) (int, error) {
	return 0, errors.New("promotions table gone")
}

func TestDeployNotesThatCannotBeReadLinkTheMergeRequest(t *testing.T) {
	var logged []string
	p := fixturePage(noNotes{fixture()}, nil)
	p.Error = func(msg string, err error) { logged = append(logged, msg+": "+err.Error()) }
	_, _, body := get(t, serve(t, p).URL+"/")
	mustContain(t, body, `<a class="note" href="https://gitlab.example.com/platform/documents/-/merge_requests/40">deploy note</a>`,
		`by <span class="by">@alice</span>`)
	if strings.Contains(body, "#note_") || strings.Contains(body, "promotions table gone") {
		t.Error("the page links a note it could not read, or shows the error's details")
	}
	if len(logged) != 1 {
		t.Errorf("logged %q, want the failure once", logged)
	}
}

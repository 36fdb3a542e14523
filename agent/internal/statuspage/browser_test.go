package statuspage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// chromium is the browser the page is tested in (Debian's package).
const chromium = "/usr/bin/chromium"

// browser starts a headless Chromium of its own (a fresh profile, no network but the test's) and returns a
// context of one tab in it, at a 1280 × 900 viewport. No Chromium skips the test, or fails it in CI.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromium); err != nil {
		testsvc.Unavailable(t, "no Chromium at %s (apt-get install chromium): %v", chromium, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // the tests run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		testsvc.Unavailable(t, "start %s: %v", chromium, err)
	}
	return ctx
}

// gridFacts is what the test reads of the page's DOM.
type gridFacts struct {
	Stacks, Cells, CommitLinks, MRLinks int
	// NoteLinks are the shown links to a deploy note's anchor; Mergers the shown "@user"s; LongMerger the
	// one of the stack with the longest name; Overflowing the cells whose content is wider than they are.
	NoteLinks, Mergers int
	LongMerger         string
	Overflowing        int
	Stages             []string
	Canary             string
	CanaryCommit       string
	Drifted            []string
	ScrollWidth        int
	Running            int
}

const readGrid = `(() => {
	const p = document.querySelector('section.project[data-project="platform/documents"]');
	const grid = p.querySelector("table.grid");
	const canary = grid.querySelector('tr[data-function="api"] td[data-stage="prod"]');
	return {
		Stacks: grid.querySelectorAll("tr[data-stack]").length,
		Cells: grid.querySelectorAll("tr[data-stack] td.cell").length,
		CommitLinks: grid.querySelectorAll("tr[data-stack] td.cell a.commit[href*='/-/commit/']").length,
		MRLinks: grid.querySelectorAll("tr[data-stack] td.cell a.mr[href*='/-/merge_requests/']").length,
		NoteLinks: Array.from(grid.querySelectorAll("tr[data-stack] td.cell a.note[href*='/-/merge_requests/'][href*='#note_']"))
			.filter(a => a.textContent === "deploy note" && a.getBoundingClientRect().width > 0).length,
		Mergers: Array.from(grid.querySelectorAll("tr[data-stack] td.cell .when .by"))
			.filter(s => s.textContent.startsWith("@") && s.getBoundingClientRect().width > 0).length,
		LongMerger: grid.querySelector('tr[data-stack="billing-and-invoicing-pipeline"] td[data-stage="prod"] .when').textContent,
		Overflowing: Array.from(grid.querySelectorAll("td.cell")).filter(td => td.scrollWidth > td.clientWidth).length,
		Stages: Array.from(grid.querySelectorAll("thead th[scope=col]")).slice(1).map(th => th.textContent),
		Canary: canary.querySelector(".version.canary").textContent,
		CanaryCommit: canary.querySelector("a.commit").getAttribute("href"),
		Drifted: Array.from(grid.querySelectorAll('td[data-drift="drifted"]')).map(td => td.closest("tr").dataset.stack + "/" + td.dataset.stage),
		ScrollWidth: document.documentElement.scrollWidth,
		Running: document.querySelectorAll("pre[data-events]").length,
	};
})()`

// TestPageInBrowser opens the page of a project of 10 stacks × 5 stages, with a canary at 10% and a
// drifted stack, in a real browser at 1280 px: the grid's cells and links, the split, the drift marker, no
// horizontal scrolling; then terraform output written while the page is open streams in, masked.
func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)
	hub := &Hub{Mask: maskAgent}
	runCtx, endRun := context.WithCancel(context.Background())
	defer endRun()
	w := hub.Start(runCtx, RunInfo{Project: fixtureProject, MR: 44, Stack: "api", Stage: "prod", Kind: "apply"})
	fmt.Fprint(w, "Initializing the backend...\nterraform_data.probe: Refreshing state...\n")
	srv := serve(t, fixturePage(fixture(), hub))

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("table.grid"))); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	facts, err := chromedp.Run(ctx, chromedp.Evaluate[gridFacts](readGrid))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	want := gridFacts{Stacks: 10, Cells: 50, CommitLinks: 50, MRLinks: 50, Stages: []string{"dev", "qa", "staging", "preprod", "prod"},
		NoteLinks: 45, Mergers: 50, LongMerger: "applied 2026-12-03 17:30 UTC by @" + longMerger,
		Canary: "v12 10% / v11 90%", CanaryCommit: "https://gitlab.example.com/platform/documents/-/commit/" + canaryCommit,
		Drifted: []string{"storage/prod"}, Running: 1}
	got := facts
	got.ScrollWidth = 0
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the page shows\n%+v\nwant\n%+v", got, want)
	}
	if facts.ScrollWidth > 1280 {
		t.Errorf("the page is %d px wide: it scrolls sideways in a 1280 px viewport", facts.ScrollWidth)
	}

	// Output written while the page is open reaches it through the event stream, masked.
	fmt.Fprint(w, "terraform_data.probe: Modifying...\nauth with "+agentSecret+"\n")
	output, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const pre = document.querySelector("pre[data-events]");
		return pre.textContent.includes("auth with") ? pre.textContent : null;
	})()`, chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Fatalf("streamed output did not appear: %v", err)
	}
	if !strings.Contains(output, "auth with [masked]") || strings.Contains(output, agentSecret) || !strings.Contains(output, "Refreshing state...") {
		t.Errorf("streamed output:\n%s", output)
	}

	// The run ends: the page says so.
	endRun()
	_, err = chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const s = document.querySelector("[id^=state-]");
		return s.textContent === "finished" ? s.textContent : null;
	})()`, chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Errorf("the page did not mark the run finished: %v", err)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveArtifact(t, "status-page.png", png)
}

// saveArtifact writes data to the test's artifact dir (kept with go test -artifacts) and, when
// GITOPS_TEST_ARTIFACTS is set, to that dir too.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("GITOPS_TEST_ARTIFACTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("saved %s", p)
	}
}

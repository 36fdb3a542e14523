// Package statuspage renders the admin listener's status page: per project, what is live in each stack ×
// stage (commit, merge request, when applied and who merged it, a link to the deploy note of the
// promotion that put it there, the function's canary, drift), the terraform runs going on
// with their output streamed as it comes (server-sent events), and the recent history, failures first.
//
// The page is read-only and server-rendered from embedded templates; it works without JavaScript (a run's
// page shows its output so far), and a small script streams new output in. It imports only the domain:
// what it shows comes through Source, which the wiring fills from the ledger, and through Hub, to which
// the terraform runs write their output.
package statuspage

import (
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Source is what the page reads: the ledger's record of projects, live commits, runs, releases, drift
// checks and promotions' deploy notes. Lists come newest first where they have an order.
type Source interface {
	// Projects lists, sorted, the projects that have at least one run.
	Projects(ctx context.Context) ([]string, error)
	// Live is the commit live per stack and stage of project.
	Live(ctx context.Context, project string) ([]gitops.Live, error)
	// History is project's runs, newest first, at most limit of them.
	History(ctx context.Context, project string, limit int) ([]gitops.Run, error)
	// Releases is project's function releases, newest first, at most limit of them.
	Releases(ctx context.Context, project string, limit int) ([]gitops.ReleaseRun, error)
	// Drifts is the last drift check of each stack and stage of project.
	Drifts(ctx context.Context, project string) ([]gitops.Drift, error)
	// DeployNote is the id of the note on merge request mr that shows its promotion of commit; 0 when
	// none is known.
	DeployNote(ctx context.Context, project string, mr int, commit string) (int, error)
}

// DefaultHistory is how many runs and releases of each project the page lists by default.
const DefaultHistory = 20

// Page serves the status page. Its fields are set once before use.
type Page struct {
	Source Source
	// Hub holds the runs' output; nil shows no runs.
	Hub *Hub
	// CommitURL and MergeRequestURL link commits and merge requests to GitLab; nil, or "", shows no link.
	CommitURL       func(project, sha string) string
	MergeRequestURL func(project string, mr int) string
	// Mask replaces the agent's secrets in text from the ledger (errors, summaries); nil masks nothing.
	Mask func(string) string
	// History is how many runs and releases of each project are listed; 0 means DefaultHistory.
	History int
	// Error is told what the page could not read; nil ignores it.
	Error func(msg string, err error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

//go:embed templates/status.js
var script string

// scriptHash is the Content-Security-Policy source of the page's one script: no other script runs.
var scriptHash = func() string {
	sum := sha256.Sum256([]byte(script))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// securityHeaders keeps the page to itself: its own script and styles, its own event streams, no
// framing, no sniffing, never cached.
func securityHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src "+scriptHash+
		"; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
}

// Index serves GET / : every project's grid, the runs in progress and the recent history. A project whose
// records cannot be read shows that instead of its grid; the page fails (500) only when the list of
// projects cannot be read.
func (p *Page) Index() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		v, err := p.index(ctx)
		if err != nil {
			p.fail(w, "read the projects", err)
			return
		}
		p.render(w, "index", v)
	})
}

// Run serves GET /runs/{id}: the run's output so far, streamed on with JavaScript; 404 for a run the Hub
// does not hold (unknown, or finished long enough ago to be dropped).
func (p *Page) Run() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var run RunView
		ok := p.Hub != nil
		if ok {
			run, ok = p.Hub.Run(r.PathValue("id"))
		}
		if !ok {
			securityHeaders(w, "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("no such run: its output is kept for a while after it finished, then dropped\n"))
			return
		}
		p.render(w, "run", runPage{Generated: p.stamp(), Run: p.runView(run), Script: template.JS(script)})
	})
}

func (p *Page) render(w http.ResponseWriter, name string, v any) {
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, name, v); err != nil {
		p.fail(w, "render the page", err)
		return
	}
	securityHeaders(w, "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func (p *Page) fail(w http.ResponseWriter, msg string, err error) {
	if p.Error != nil {
		p.Error(msg, err)
	}
	securityHeaders(w, "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("the status page could not " + msg + "\n"))
}

func (p *Page) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Page) stamp() string { return utc(p.now()) }

func (p *Page) mask(s string) string {
	if p.Mask == nil {
		return s
	}
	return p.Mask(s)
}

func (p *Page) commitURL(project, sha string) string {
	if p.CommitURL == nil || sha == "" {
		return ""
	}
	return p.CommitURL(project, sha)
}

func (p *Page) mrURL(project string, mr int) string {
	if p.MergeRequestURL == nil || mr <= 0 {
		return ""
	}
	return p.MergeRequestURL(project, mr)
}

// utc is how the page writes a time: "2026-01-02 15:04 UTC".
func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// shortSHA is how many hex digits of a commit the page shows, as GitLab does.
const shortSHA = 8

func short(sha string) string { return sha[:min(len(sha), shortSHA)] }

// index reads what the page shows.
func (p *Page) index(ctx context.Context) (indexPage, error) {
	v := indexPage{Generated: p.stamp(), Script: template.JS(script)}
	projects, err := p.Source.Projects(ctx)
	if err != nil {
		return v, err
	}
	for _, name := range projects {
		v.Projects = append(v.Projects, p.project(ctx, name))
	}
	if p.Hub != nil {
		for _, r := range p.Hub.Runs() {
			rv := p.runView(r)
			if r.Finished == nil {
				if full, ok := p.Hub.Run(r.ID); ok {
					rv = p.runView(full)
					rv.Lines = rv.Lines[max(0, len(rv.Lines)-tailLines):]
				}
				v.Running = append(v.Running, rv)
			} else {
				v.Finished = append(v.Finished, rv)
			}
		}
	}
	return v, nil
}

// tailLines is how many of a running run's last lines the index shows before the stream adds more.
const tailLines = 30

// project reads one project's records and lays them out; a read that fails is shown, not fatal.
func (p *Page) project(ctx context.Context, name string) projectView {
	v := projectView{Name: name}
	limit := cmp.Or(p.History, DefaultHistory)
	live, err := p.Source.Live(ctx, name)
	if err != nil {
		return p.broken(v, "live commits", err)
	}
	drifts, err := p.Source.Drifts(ctx, name)
	if err != nil { // the grid is still worth showing
		if p.Error != nil {
			p.Error("read the drift checks of "+name, err)
		}
		v.Notice, drifts = "The drift checks of this project could not be read.", nil
	}
	releases, err := p.Source.Releases(ctx, name, limit)
	if err != nil {
		return p.broken(v, "releases", err)
	}
	history, err := p.Source.History(ctx, name, limit)
	if err != nil {
		return p.broken(v, "run history", err)
	}
	p.grid(&v, live, p.deployNotes(ctx, name, live, releases), drifts, releases)
	v.History = p.history(name, history, releases, limit)
	return v
}

func (p *Page) broken(v projectView, what string, err error) projectView {
	if p.Error != nil {
		p.Error("read the "+what+" of "+v.Name, err)
	}
	v.Error = "The " + what + " of this project could not be read."
	return v
}

func (p *Page) runView(r RunView) runView {
	v := runView{RunView: r, URL: "/runs/" + r.ID, Started: utc(r.Started), MRURL: p.mrURL(r.Project, r.MR)}
	if r.Finished != nil {
		v.Ended = utc(*r.Finished)
	}
	if n := len(r.Lines); n > 0 {
		v.LastSeq = r.Lines[n-1].Seq
	}
	// The stream goes on from the last line shown; a reconnect goes on from its Last-Event-ID.
	v.Events = v.URL + "/events?after=" + strconv.FormatInt(v.LastSeq, 10)
	return v
}

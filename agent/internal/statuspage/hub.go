package statuspage

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Defaults of a Hub's bounds.
const (
	DefaultKeepBytes   = 64 << 10         // output kept per run, bookkeeping included
	DefaultKeepFor     = 15 * time.Minute // how long a finished run's output stays
	DefaultMaxFinished = 50               // finished runs kept at most
	maxLine            = 4 << 10          // a longer line is cut
	subscriberBuffer   = 512              // lines a subscriber may fall behind before it is dropped
)

// RunInfo says which terraform run an output belongs to.
type RunInfo struct {
	Project string
	MR      int
	Stack   string
	Stage   string
	// Kind is "plan" (a merge request's plan) or "apply" (a promotion: plan, then apply).
	Kind string
}

// Line is one line of a run's output, masked, numbered from 1 in the order it was written.
type Line struct {
	Seq  int64
	Text string
}

// RunView is a run as the page shows it.
type RunView struct {
	RunInfo
	ID       string
	Started  time.Time
	Finished *time.Time // nil while the run goes on
	Cut      bool       // older output was dropped to keep the buffer's bound
	Lines    []Line     // the output kept, oldest first
}

// Hub keeps the recent output of terraform runs and fans each new line out to the page's subscribers. It
// is safe for concurrent use. A writer never waits for a subscriber: a subscriber that falls more than
// subscriberBuffer lines behind is dropped (its channel is closed), and may subscribe again from the last
// line it got.
//
// Memory is bounded: each run keeps at most KeepBytes of output (oldest lines first out), lines are cut at
// 4 KiB, and a finished run's output is dropped KeepFor after it finished, or earlier when more than
// MaxFinished runs have finished.
type Hub struct {
	// Mask replaces the agent's secrets in a line before it is kept; nil keeps lines as written (the
	// terraform adapter has masked the run's own secrets already).
	Mask        func(string) string
	KeepBytes   int
	KeepFor     time.Duration
	MaxFinished int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	seq  int64
	runs map[string]*run
}

// run is one run's output; its fields are guarded by the Hub's mu.
type run struct {
	info     RunInfo
	id       string
	started  time.Time
	finished *time.Time
	lines    []Line
	bytes    int
	cut      bool
	next     int64
	subs     map[chan Line]struct{}
	done     chan struct{} // closed when the run finishes
}

// Start begins the output of a run and returns the writer terraform's output goes to. The run finishes
// when ctx ends (the run's step is over); Write after that is discarded.
func (h *Hub) Start(ctx context.Context, info RunInfo) *Writer {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.runs == nil {
		h.runs = map[string]*run{}
	}
	h.pruneLocked()
	h.seq++
	r := &run{info: info, id: strconv.FormatInt(h.seq, 10), started: h.now(), next: 1, subs: map[chan Line]struct{}{}, done: make(chan struct{})}
	h.runs[r.id] = r
	w := &Writer{h: h, r: r}
	context.AfterFunc(ctx, func() {
		w.Flush()
		h.finish(r)
	})
	return w
}

func (h *Hub) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// finish marks r finished and ends its subscriptions.
func (h *Hub) finish(r *run) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.finished != nil {
		return
	}
	t := h.now()
	r.finished = &t
	close(r.done)
	for ch := range r.subs {
		close(ch)
	}
	clear(r.subs)
}

// add appends lines to r's output and hands them to its subscribers.
func (h *Hub) add(r *run, texts []string) {
	keep := cmp.Or(h.KeepBytes, DefaultKeepBytes)
	for i, t := range texts {
		if h.Mask != nil {
			t = h.Mask(t)
		}
		texts[i] = clipLine(t)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.finished != nil {
		return
	}
	for _, t := range texts {
		l := Line{Seq: r.next, Text: t}
		r.next++
		r.lines = append(r.lines, l)
		r.bytes += lineCost(t)
		for r.bytes > keep && len(r.lines) > 1 {
			r.bytes -= lineCost(r.lines[0].Text)
			r.lines[0] = Line{}
			r.lines = r.lines[1:]
			r.cut = true
		}
		for ch := range r.subs {
			select {
			case ch <- l:
			default: // too slow: dropped, it may come back from its last line
				close(ch)
				delete(r.subs, ch)
			}
		}
	}
}

// lineCost is what a kept line counts against KeepBytes: its text and its bookkeeping, so that many
// empty lines are bounded too.
func lineCost(text string) int { return len(text) + 32 }

// clipLine cuts a line at maxLine bytes, on a rune boundary.
func clipLine(s string) string {
	s = strings.ToValidUTF8(strings.TrimRight(s, "\r"), "\uFFFD")
	if len(s) <= maxLine {
		return s
	}
	cut := maxLine
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " [… line cut]"
}

// Runs returns every run the Hub holds, unfinished first, then newest first, without their lines.
func (h *Hub) Runs() []RunView {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pruneLocked()
	out := make([]RunView, 0, len(h.runs))
	for _, r := range h.runs {
		out = append(out, r.view(false))
	}
	slices.SortFunc(out, func(a, b RunView) int {
		if (a.Finished == nil) != (b.Finished == nil) {
			if a.Finished == nil {
				return -1
			}
			return 1
		}
		return cmp.Or(b.Started.Compare(a.Started), strings.Compare(b.ID, a.ID))
	})
	return out
}

// Run returns the run id with its output so far; false when the Hub has no such run (never, or dropped).
func (h *Hub) Run(id string) (RunView, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.runs[id]
	if !ok {
		return RunView{}, false
	}
	return r.view(true), true
}

func (r *run) view(lines bool) RunView {
	v := RunView{RunInfo: r.info, ID: r.id, Started: r.started, Finished: r.finished, Cut: r.cut}
	if lines {
		v.Lines = slices.Clone(r.lines)
	}
	return v
}

// Subscribe returns the lines of run id after line number after that the Hub still holds, and a channel of
// the lines that follow. The channel is closed when the run finishes, when the subscriber falls behind
// (then finished is still open), or by cancel. ok is false when there is no such run.
func (h *Hub) Subscribe(id string, after int64) (backlog []Line, lines <-chan Line, finished <-chan struct{}, cancel func(), ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.runs[id]
	if !ok {
		return nil, nil, nil, nil, false
	}
	for _, l := range r.lines {
		if l.Seq > after {
			backlog = append(backlog, l)
		}
	}
	ch := make(chan Line, subscriberBuffer)
	if r.finished != nil {
		close(ch)
		return backlog, ch, r.done, func() {}, true
	}
	r.subs[ch] = struct{}{}
	cancel = func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := r.subs[ch]; ok {
			delete(r.subs, ch)
			close(ch)
		}
	}
	return backlog, ch, r.done, cancel, true
}

// pruneLocked drops the finished runs past KeepFor, and the oldest finished ones beyond MaxFinished.
func (h *Hub) pruneLocked() {
	keepFor, maxFinished := cmp.Or(h.KeepFor, DefaultKeepFor), cmp.Or(h.MaxFinished, DefaultMaxFinished)
	now := h.now()
	var finished []*run
	for id, r := range h.runs {
		switch {
		case r.finished == nil:
		case now.Sub(*r.finished) > keepFor:
			delete(h.runs, id)
		default:
			finished = append(finished, r)
		}
	}
	if len(finished) <= maxFinished {
		return
	}
	slices.SortFunc(finished, func(a, b *run) int { return b.finished.Compare(*a.finished) })
	for _, r := range finished[maxFinished:] {
		delete(h.runs, r.id)
	}
}

// Writer is one run's output: it splits what is written into lines and adds each complete line to the
// Hub. It is safe for concurrent use; a line is complete at its newline, or at Flush.
type Writer struct {
	h  *Hub
	r  *run
	mu sync.Mutex
	// partial is the incomplete last line, bounded just past maxLine: the rest of a longer line is
	// dropped, and the Hub cuts it with a marker.
	partial []byte
}

// Write adds the complete lines of p; it never fails and never blocks on a subscriber.
func (w *Writer) Write(p []byte) (int, error) {
	n := len(p)
	w.mu.Lock()
	var lines []string
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxLine + 1 - len(w.partial); len(chunk) > room {
			chunk = chunk[:max(room, 0)]
		}
		w.partial = append(w.partial, chunk...)
		if i < 0 {
			break
		}
		lines = append(lines, w.take())
		p = p[i+1:]
	}
	w.mu.Unlock()
	if len(lines) > 0 {
		w.h.add(w.r, lines)
	}
	return n, nil
}

// take returns the partial line and empties it.
func (w *Writer) take() string {
	s := string(w.partial)
	w.partial = w.partial[:0]
	return s
}

// Flush adds the incomplete last line, if any.
func (w *Writer) Flush() {
	w.mu.Lock()
	if len(w.partial) == 0 {
		w.mu.Unlock()
		return
	}
	s := w.take()
	w.mu.Unlock()
	w.h.add(w.r, []string{s})
}

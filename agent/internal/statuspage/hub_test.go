package statuspage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func texts(ls []Line) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Text)
	}
	return out
}

func TestHubSplitsAndMasksLines(t *testing.T) {
	h := &Hub{Mask: maskAgent}
	ctx, end := context.WithCancel(context.Background())
	w := h.Start(ctx, RunInfo{Project: "p", Stack: "api", Stage: "dev", Kind: "plan"})
	for _, chunk := range []string{"Initializing\r\nplan with glpat-Agent", "SecretToken123 in it\n", "\n", "partial"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	runs := h.Runs()
	if len(runs) != 1 || runs[0].Finished != nil {
		t.Fatalf("runs = %+v, want one unfinished", runs)
	}
	end()
	waitFinished(t, h, runs[0].ID)
	v, _ := h.Run(runs[0].ID)
	want := []string{"Initializing", "plan with [masked] in it", "", "partial"}
	if diff := cmp.Diff(want, texts(v.Lines)); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if _, err := w.Write([]byte("after the end\n")); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.Run(runs[0].ID); len(v.Lines) != 4 {
		t.Errorf("a line written after the run finished was kept: %q", texts(v.Lines))
	}
}

func waitFinished(t *testing.T, h *Hub, id string) {
	t.Helper()
	for range 200 {
		if v, ok := h.Run(id); ok && v.Finished != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("run %s did not finish when its context ended", id)
}

func TestHubBoundsMemory(t *testing.T) {
	h := &Hub{KeepBytes: 1000}
	w := h.Start(t.Context(), RunInfo{Stack: "api"})
	for i := range 500 {
		fmt.Fprintf(w, "line %03d %s\n", i, strings.Repeat("x", 40))
	}
	fmt.Fprintf(w, "%s\n", strings.Repeat("y", 10*maxLine))
	v, _ := h.Run(h.Runs()[0].ID)
	size := 0
	for _, l := range v.Lines {
		size += lineCost(l.Text)
	}
	if !v.Cut || len(v.Lines) != 1 || !strings.HasSuffix(v.Lines[0].Text, "[… line cut]") || size > maxLine+100 {
		t.Errorf("kept %d lines, %d bytes, cut %v: want the last line alone, cut at %d bytes", len(v.Lines), size, v.Cut, maxLine)
	}
	if v.Lines[0].Seq != 501 {
		t.Errorf("last line is number %d, want 501", v.Lines[0].Seq)
	}
}

func TestHubDropsFinishedRuns(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &Hub{KeepFor: time.Minute, MaxFinished: 2, Now: func() time.Time { return now }}
	var ids []string
	for range 4 {
		ctx, end := context.WithCancel(context.Background())
		h.Start(ctx, RunInfo{})
		id := h.Runs()[0].ID
		end()
		waitFinished(t, h, id)
		ids = append(ids, id)
		now = now.Add(time.Second)
	}
	running := h.Start(t.Context(), RunInfo{Stack: "still running"})
	_ = running
	if got := len(h.Runs()); got != 3 {
		t.Errorf("runs kept = %d, want the running one and the 2 last finished", got)
	}
	if _, ok := h.Run(ids[0]); ok {
		t.Errorf("the oldest finished run is still kept past MaxFinished")
	}
	now = now.Add(2 * time.Minute)
	if runs := h.Runs(); len(runs) != 1 || runs[0].Stack != "still running" {
		t.Errorf("runs after KeepFor = %+v, want only the running one", runs)
	}
}

// TestSlowSubscriberNeverBlocksTheRun: a subscriber that reads nothing is dropped once it is
// subscriberBuffer lines behind, while the writer goes on; subscribing again from its last line resumes.
func TestSlowSubscriberNeverBlocksTheRun(t *testing.T) {
	h := &Hub{KeepBytes: 1 << 20}
	w := h.Start(t.Context(), RunInfo{})
	id := h.Runs()[0].ID
	_, lines, finished, cancel, ok := h.Subscribe(id, 0)
	if !ok {
		t.Fatal("no such run")
	}
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5 * subscriberBuffer {
			fmt.Fprintf(w, "line %d\n", i+1)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer blocked on a subscriber that does not read")
	}
	var got []Line
	for l := range lines { // closed: dropped
		got = append(got, l)
	}
	if len(got) != subscriberBuffer {
		t.Errorf("the slow subscriber got %d lines before it was dropped, want %d", len(got), subscriberBuffer)
	}
	select {
	case <-finished:
		t.Error("finished is closed, but the run goes on")
	default:
	}
	backlog, _, _, cancel2, _ := h.Subscribe(id, got[len(got)-1].Seq)
	defer cancel2()
	if len(backlog) != 4*subscriberBuffer || backlog[0].Seq != int64(subscriberBuffer+1) {
		t.Errorf("resumed with %d lines from %d, want %d from %d", len(backlog), backlog[0].Seq, 4*subscriberBuffer, subscriberBuffer+1)
	}
}

package statuspage

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// heartbeat is how often an idle event stream gets a comment, so that proxies keep it open.
const heartbeat = 15 * time.Second

// writeWait is how long one write of an event stream may take before the client is cut off.
const writeWait = 30 * time.Second

// Events serves GET /runs/{id}/events: the run's output as server-sent events (text/event-stream), one
// "line" event per line with the line's number as its id, from the line after Last-Event-ID (or the query's
// after=N; 0 by default: everything kept), then each line as it comes; an "end" event when the run has
// finished. A client that falls behind is disconnected; reconnecting with Last-Event-ID resumes where it
// left off, as far as the Hub still holds the output. 404 for a run the Hub does not hold.
func (p *Page) Events() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		if id, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
			after = id
		}
		if p.Hub == nil {
			http.NotFound(w, r)
			return
		}
		backlog, lines, finished, cancel, ok := p.Hub.Subscribe(r.PathValue("id"), after)
		if !ok {
			http.NotFound(w, r)
			return
		}
		defer cancel()
		securityHeaders(w, "text/event-stream")
		w.Header().Set("X-Accel-Buffering", "no")
		// The stream outlives the server's read and write timeouts: the client sends nothing more, and
		// each write gets a deadline of its own, so a client that stops reading is cut off.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		w.WriteHeader(http.StatusOK)
		bw := bufio.NewWriter(w)
		flush := func() bool {
			_ = rc.SetWriteDeadline(time.Now().Add(writeWait))
			if bw.Flush() != nil {
				return false
			}
			return rc.Flush() == nil
		}
		_, _ = bw.WriteString("retry: 2000\n\n")
		for _, l := range backlog {
			writeLine(bw, l)
		}
		if !flush() {
			return
		}
		tick := time.NewTicker(heartbeat)
		defer tick.Stop()
		for {
			select {
			case l, open := <-lines:
				if !open {
					endStream(bw, finished)
					flush()
					return
				}
				writeLine(bw, l)
				for more := true; more; { // what else is waiting goes in the same flush
					select {
					case l, open := <-lines:
						if !open {
							more = false
							break
						}
						writeLine(bw, l)
					default:
						more = false
					}
				}
				if !flush() {
					return
				}
			case <-tick.C:
				_, _ = bw.WriteString(": keep-alive\n\n")
				if !flush() {
					return
				}
			case <-r.Context().Done():
				return
			}
		}
	})
}

// endStream writes the "end" event when the run has finished; a subscriber dropped for falling behind
// just ends the response, and its client reconnects from the last line it got.
func endStream(bw *bufio.Writer, finished <-chan struct{}) {
	select {
	case <-finished:
		_, _ = bw.WriteString("event: end\ndata: finished\n\n")
	default:
	}
}

// writeLine writes one line as an event; a line holds no line break (the Hub splits on them), and a
// carriage return would end the data field early, so it is dropped.
func writeLine(bw *bufio.Writer, l Line) {
	text := strings.NewReplacer("\r", "", "\n", "").Replace(l.Text)
	_, _ = bw.WriteString("id: " + strconv.FormatInt(l.Seq, 10) + "\nevent: line\ndata: " + text + "\n\n")
}

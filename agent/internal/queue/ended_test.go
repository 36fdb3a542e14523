package queue

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
)

type refusedErr struct{}

func (refusedErr) Error() string   { return "gitlab: get merge request g/a!3: 404 Not Found" }
func (refusedErr) Permanent() bool { return true }

func TestEndedLogsFailuresAndCancelsPermanentOnes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		attempt    int
		wantCancel bool
		wantLog    string // "" for no line
	}{
		{"done", nil, 1, false, ""},
		{"snoozed", river.JobSnooze(time.Second), 1, false, ""},
		{"transient", errors.New("502 Bad Gateway"), 1, false, "plan job failed; it will be retried"},
		{"transient, last attempt", errors.New("502 Bad Gateway"), 5, false, "plan job failed on its last attempt; given up"},
		{"permanent", refusedErr{}, 1, true, "plan job failed for good; not retried"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			q := &Queue{log: zerolog.New(&buf)}
			row := &rivertype.JobRow{ID: 42, Kind: "plan", Attempt: tc.attempt, MaxAttempts: 5}
			got := q.ended(context.Background(), row, "g/a", 3, tc.err)
			var cancel *rivertype.JobCancelError
			if errors.As(got, &cancel) != tc.wantCancel {
				t.Errorf("ended = %v, cancelled %v, want %v", got, !tc.wantCancel, tc.wantCancel)
			}
			if !tc.wantCancel && !errors.Is(got, tc.err) && got != tc.err {
				t.Errorf("ended = %v, want %v passed through", got, tc.err)
			}
			line := buf.String()
			if tc.wantLog == "" {
				if line != "" {
					t.Errorf("logged %s, want nothing", line)
				}
				return
			}
			for _, w := range []string{`"level":"error"`, `"job":42`, `"attempt":` + string(rune('0'+tc.attempt)), `"project":"g/a"`, `"mr":3`, `"reason":"`, tc.wantLog} {
				if !strings.Contains(line, w) {
					t.Errorf("log line %s lacks %s", line, w)
				}
			}
		})
	}
}

package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// Drain hands the entries on, oldest first, until ctx ends, waiting for new ones when the spool is empty.
// handle returning nil means the entry is handed on (or deliberately dropped): it is removed. An error
// keeps the entry at the head of the spool and handle is called with it again after a wait (Options.Retry,
// doubling up to Options.MaxRetry), so the order is kept. An entry that does not read back whole is set
// aside in bad/ with a log line. Run one Drain at a time.
func (s *Spool) Drain(ctx context.Context, handle func(context.Context, Entry) error) {
	wait := s.retry
	for ctx.Err() == nil {
		name, ok := s.oldest()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			continue
		}
		e, err := s.read(name)
		if err != nil {
			s.setAside(name, err)
			continue
		}
		if err := handle(ctx, e); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn().Err(err).Str("entry", name).Str("delivery", e.Delivery).Dur("retry_in", wait).
				Msg("spool: the oldest delivery could not be handed on; retrying")
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, s.maxRetry)
			continue
		}
		wait = s.retry
		s.remove(name)
		s.drained()
	}
}

// oldest returns the name of the oldest entry; false when the spool is empty.
func (s *Spool) oldest() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.names) == 0 {
		return "", false
	}
	return s.names[0], true
}

// remove deletes entry name. Removal is not fsynced: an entry that reappears after a crash is handed on
// again, and the queue's uniqueness makes that a duplicate.
func (s *Spool) remove(name string) {
	if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		// Left on disk it would come back at the next Open and be handed on again: a duplicate, not a loss.
		s.log.Error().Err(err).Str("entry", name).Msg("spool: remove a handed-on entry")
	}
	s.forget(name)
}

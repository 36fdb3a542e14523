package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// holderName is what a lock holder may be (Request.LockHolder): a portable user name.
var holderName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// lockID is what a lock ID must look like to be released: a UUID, as Terraform makes them, or another
// word that cannot read as a flag.
var lockID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// lockInfo is what a state-lock error says of the lock: its ID and who holds it (user@host).
type lockInfo struct{ ID, Who string }

// user is the user part of Who: what comes before its first "@" (Terraform writes user@host).
func (l lockInfo) user() string {
	u, _, _ := strings.Cut(l.Who, "@")
	return u
}

// parseLockInfo reads the ID and Who of the first "Lock Info:" block of Terraform's diagnostics (before
// ScrubDiagnostics redacts Who); zero when there is none.
func parseLockInfo(diags string) lockInfo {
	var l lockInfo
	in := false
	for line := range strings.SplitSeq(diags, "\n") {
		bare := strings.TrimSpace(strings.TrimLeft(line, "│ \t"))
		switch {
		case bare == "Lock Info:":
			in = true
		case !in:
		case bare == "":
			return l
		default:
			k, v, ok := strings.Cut(bare, ":")
			if !ok {
				continue
			}
			switch k {
			case "ID":
				l.ID = strings.TrimSpace(v)
			case "Who":
				l.Who = strings.TrimSpace(v)
			}
		}
	}
	return l
}

// httpLocked is how terraform's http backend reports a held lock: by the ID of the lock held (from the
// backend's 409 answer) alone; the "Lock Info:" it prints is the refused request's own. Terraform wraps
// the message, in a diagnostics box or not.
var httpLocked = regexp.MustCompile(`HTTP remote state already locked:[\s│]*ID=([^\s│]+)`)

// unlocking runs run, one command that takes the state lock (plan, apply). When it fails because the
// state is locked by an interrupted run of the same state (see staleLock), the lock is released with
// `force-unlock -force <ID>` and run runs once more. A lock held by anybody else, or a failure of the
// second run, is returned as it is.
func (w *Workspace) unlocking(ctx context.Context, run func() error) error {
	err := run()
	lock, ok, qerr := w.staleLock(ctx, err)
	if qerr != nil {
		return errors.Join(err, qerr)
	}
	if !ok {
		return err
	}
	uerr := w.step(ctx, StepUnlock, nil, func() error { return w.tf.ForceUnlock(ctx, lock.ID) })
	if uerr != nil {
		return errors.Join(err, uerr)
	}
	w.r.log.Info().Str("dir", w.req.Dir).Str("lock", lock.ID).Msg("released the state lock an interrupted run left held")
	return run()
}

// staleLock is the lock err failed on when it is a stale holder's: its Who names one of the request's
// StaleLockHolders, or, for terraform's http backend (which names a held lock by its ID alone), the
// request's StaleLock says the lock of the state at the backend's address is an interrupted run's.
func (w *Workspace) staleLock(ctx context.Context, err error) (lockInfo, bool, error) {
	var e *Error
	// A backend may show the refused request's own lock information (the http backend does): a stale
	// holder is never this run's own.
	stale := slices.DeleteFunc(slices.Clone(w.req.StaleLockHolders), func(h string) bool { return h == "" || h == w.req.LockHolder })
	if len(stale) == 0 || !errors.As(err, &e) || !e.StateLocked() {
		return lockInfo{}, false, nil
	}
	if slices.Contains(stale, e.lock.user()) && lockID.MatchString(e.lock.ID) {
		return e.lock, true, nil
	}
	m := httpLocked.FindStringSubmatch(e.Diagnostics)
	if w.req.StaleLock == nil || m == nil || !lockID.MatchString(m[1]) {
		return lockInfo{}, false, nil
	}
	address := w.httpAddress()
	if address == "" {
		return lockInfo{}, false, nil
	}
	ok, qerr := w.req.StaleLock(ctx, address)
	if qerr != nil {
		return lockInfo{}, false, fmt.Errorf("tell whose the state lock %s is: %w", m[1], qerr)
	}
	return lockInfo{ID: m[1]}, ok, nil
}

// httpAddress is the state address of the work dir's backend when it is terraform's http backend, as
// init recorded it (.terraform/terraform.tfstate: the backend block, files and pairs of -backend-config
// merged), else the request's last "address=" backend config pair; "" for any other backend.
func (w *Workspace) httpAddress() string {
	b, err := os.ReadFile(filepath.Join(w.req.Dir, ".terraform", "terraform.tfstate"))
	if err == nil {
		var st struct {
			Backend struct {
				Type   string `json:"type"`
				Config struct {
					Address string `json:"address"`
				} `json:"config"`
			} `json:"backend"`
		}
		if json.Unmarshal(b, &st) == nil && st.Backend.Type != "" {
			if st.Backend.Type != "http" {
				return ""
			}
			if st.Backend.Config.Address != "" {
				return st.Backend.Config.Address
			}
		}
	}
	address := ""
	for _, kv := range w.req.BackendConfig {
		if v, ok := strings.CutPrefix(kv, "address="); ok {
			address = v
		}
	}
	return address
}

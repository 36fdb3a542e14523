package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// RecordTrigger records t (At defaults to now) unless a trigger of the same project, commit, function,
// stage and kind exists, and returns the one recorded: t with its id, or the earlier one, whose Notified
// says whether the merge request was told already.
func (l *Ledger) RecordTrigger(ctx context.Context, t gitops.Trigger) (gitops.Trigger, error) {
	if err := validateStart(gitops.Run{Project: t.Project, MR: t.MR, Commit: t.Commit, Stack: t.Function, Stage: t.Stage, Kind: gitops.RunApply, State: gitops.RunPlanning}); err != nil {
		return t, fmt.Errorf("record trigger: %w", err)
	}
	if t.Kind != gitops.TriggerRelease && t.Kind != gitops.TriggerAlarm {
		return t, fmt.Errorf("record trigger: unknown kind %q", t.Kind)
	}
	if t.At.IsZero() {
		t.At = now()
	}
	if _, err := l.db.ExecContext(ctx, `INSERT INTO gitops_triggers (project, mr, commit_sha, function, stage, kind, reason, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (project, commit_sha, function, stage, kind) DO NOTHING`,
		t.Project, t.MR, t.Commit, t.Function, t.Stage, t.Kind, truncate(t.Reason, maxError), t.At.UTC()); err != nil {
		return t, fmt.Errorf("record trigger: %w", err)
	}
	var got gitops.Trigger
	err := l.db.QueryRowContext(ctx, `SELECT id, project, mr, commit_sha, function, stage, kind, reason, at, notified
		FROM gitops_triggers WHERE project = $1 AND commit_sha = $2 AND function = $3 AND stage = $4 AND kind = $5`,
		t.Project, t.Commit, t.Function, t.Stage, t.Kind).Scan(&got.ID, &got.Project, &got.MR, &got.Commit, &got.Function,
		&got.Stage, &got.Kind, &got.Reason, &got.At, &got.Notified)
	if err != nil {
		return t, fmt.Errorf("record trigger: read it back: %w", err)
	}
	got.At = got.At.UTC()
	return got, nil
}

// MarkNotified records that the merge request was told of trigger id.
func (l *Ledger) MarkNotified(ctx context.Context, id int64) error {
	res, err := l.db.ExecContext(ctx, `UPDATE gitops_triggers SET notified = TRUE WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("mark trigger %d notified: %w", id, err)
	}
	return oneRow(res, id)
}

// SavePromotion keeps p as the last outcome of its merge request's promotion of p.Commit.
func (l *Ledger) SavePromotion(ctx context.Context, p gitops.Promotion) error {
	if err := validateStart(gitops.Run{Project: p.Project, MR: p.MR, Stack: "-", Stage: "-", Commit: p.Commit, Kind: gitops.RunApply, State: gitops.RunPlanning}); err != nil {
		return fmt.Errorf("save promotion: %w", err)
	}
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode promotion: %w", err)
	}
	if len(doc) > maxOutcome {
		return fmt.Errorf("save promotion of !%d: %d bytes, over the %d-byte limit", p.MR, len(doc), maxOutcome)
	}
	_, err = l.db.ExecContext(ctx, `INSERT INTO gitops_promotions (project, mr, commit_sha, outcome, saved_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (project, mr, commit_sha) DO UPDATE SET outcome = excluded.outcome, saved_at = excluded.saved_at`,
		p.Project, p.MR, p.Commit, string(doc), now())
	if err != nil {
		return fmt.Errorf("save promotion of !%d: %w", p.MR, err)
	}
	return nil
}

// Promotion returns the last outcome kept of merge request mr's promotion of commit; ok is false when
// there is none.
func (l *Ledger) Promotion(ctx context.Context, project string, mr int, commit string) (p gitops.Promotion, ok bool, err error) {
	var doc string
	err = l.db.QueryRowContext(ctx, `SELECT outcome FROM gitops_promotions WHERE project = $1 AND mr = $2 AND commit_sha = $3`,
		project, mr, commit).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("read the promotion of !%d: %w", mr, err)
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return p, false, fmt.Errorf("decode the promotion of !%d: %w", mr, err)
	}
	return p, true, nil
}

package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// maxOutcome bounds the plan outcome kept per merge request, as JSON; a larger one is not kept (a later
// partial plan then shows alone).
const maxOutcome = 16 << 20

// SavePlanOutcome keeps o as the last plan of merge request o.MR at commit o.Commit, replacing the one kept
// before. The outcome holds what the plan note shows (plain-text plans with secrets already masked), never
// the plan JSON.
func (l *Ledger) SavePlanOutcome(ctx context.Context, o gitops.PlanOutcome) error {
	if err := validateStart(gitops.Run{Project: o.Project, MR: o.MR, Stack: "-", Stage: "-", Commit: o.Commit, Kind: gitops.RunApply, State: gitops.RunPlanning}); err != nil {
		return fmt.Errorf("save plan outcome: %w", err)
	}
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode plan outcome: %w", err)
	}
	if len(doc) > maxOutcome {
		return fmt.Errorf("save plan outcome of !%d: %d bytes, over the %d-byte limit", o.MR, len(doc), maxOutcome)
	}
	_, err = l.db.ExecContext(ctx, `INSERT INTO gitops_plan_outcomes (project, mr, commit_sha, outcome, saved_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (project, mr) DO UPDATE SET commit_sha = excluded.commit_sha, outcome = excluded.outcome,
			saved_at = excluded.saved_at`,
		o.Project, o.MR, o.Commit, string(doc), time.Now().UTC())
	if err != nil {
		return fmt.Errorf("save plan outcome of !%d: %w", o.MR, err)
	}
	return nil
}

// PlanOutcome returns the last plan kept for merge request mr of project when it was made at commit; ok is
// false when there is none for that commit.
func (l *Ledger) PlanOutcome(ctx context.Context, project string, mr int, commit string) (o gitops.PlanOutcome, ok bool, err error) {
	var doc string
	err = l.db.QueryRowContext(ctx, `SELECT outcome FROM gitops_plan_outcomes WHERE project = $1 AND mr = $2 AND commit_sha = $3`,
		project, mr, commit).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return o, false, nil
	}
	if err != nil {
		return o, false, fmt.Errorf("read the plan outcome of !%d: %w", mr, err)
	}
	if err := json.Unmarshal([]byte(doc), &o); err != nil {
		return o, false, fmt.Errorf("decode the plan outcome of !%d: %w", mr, err)
	}
	return o, true, nil
}

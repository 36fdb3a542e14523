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

// maxReviewChanges bounds what one review keeps; a plan with more changes is compared on its first ones.
const maxReviewChanges = 100_000

// SaveReview keeps what the plan of stack × stage posted on merge request mr showed (one line per changed
// resource, as the pipeline writes them), replacing the one saved before.
func (l *Ledger) SaveReview(ctx context.Context, project string, mr int, stack, stage, commit string, changes []string) error {
	if err := validateStart(gitops.Run{Project: project, MR: mr, Stack: stack, Stage: stage, Commit: commit, Kind: gitops.RunApply, State: gitops.RunPlanning}); err != nil {
		return fmt.Errorf("save review: %w", err)
	}
	if len(changes) > maxReviewChanges {
		changes = changes[:maxReviewChanges]
	}
	if changes == nil {
		changes = []string{}
	}
	doc, err := json.Marshal(changes)
	if err != nil {
		return fmt.Errorf("encode review: %w", err)
	}
	_, err = l.db.ExecContext(ctx, `INSERT INTO gitops_reviews (project, mr, stack, stage, commit_sha, changes, planned_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (project, mr, stack, stage) DO UPDATE SET commit_sha = excluded.commit_sha,
			changes = excluded.changes, planned_at = excluded.planned_at`,
		project, mr, stack, stage, commit, string(doc), time.Now().UTC())
	if err != nil {
		return fmt.Errorf("save review of %s/%s on !%d: %w", stack, stage, mr, err)
	}
	return nil
}

// Review returns the changes last saved for stack × stage of merge request mr; ok is false when none was.
func (l *Ledger) Review(ctx context.Context, project string, mr int, stack, stage string) (changes []string, ok bool, err error) {
	var doc string
	err = l.db.QueryRowContext(ctx, `SELECT changes FROM gitops_reviews WHERE project = $1 AND mr = $2 AND stack = $3 AND stage = $4`,
		project, mr, stack, stage).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read review of %s/%s on !%d: %w", stack, stage, mr, err)
	}
	if err := json.Unmarshal([]byte(doc), &changes); err != nil {
		return nil, false, fmt.Errorf("decode review of %s/%s on !%d: %w", stack, stage, mr, err)
	}
	return changes, true, nil
}

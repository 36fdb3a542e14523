package ledger

import (
	"context"
	"encoding/json"
	"fmt"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// maxDriftResources bounds the resources one drift check keeps; the summary still counts them all.
const maxDriftResources = 500

// SaveDrift keeps d as the last drift check of its project, stack and stage, replacing the one saved
// before. d.CheckedAt defaults to now; a long summary or error is cut, never refused.
func (l *Ledger) SaveDrift(ctx context.Context, d gitops.Drift) error {
	if err := validateStart(gitops.Run{Project: d.Project, MR: d.MR, Stack: d.Stack, Stage: d.Stage, Commit: d.Commit, Kind: gitops.RunApply, State: gitops.RunPlanning}); err != nil {
		return fmt.Errorf("save drift: %w", err)
	}
	switch d.State {
	case gitops.DriftClean, gitops.DriftDrifted, gitops.DriftError:
	default:
		return fmt.Errorf("save drift: unknown state %q", d.State)
	}
	resources := d.Resources
	if len(resources) > maxDriftResources {
		resources = resources[:maxDriftResources]
	}
	if resources == nil {
		resources = []string{}
	}
	doc, err := json.Marshal(resources)
	if err != nil {
		return fmt.Errorf("encode drifted resources: %w", err)
	}
	at := d.CheckedAt.UTC()
	if d.CheckedAt.IsZero() {
		at = now()
	}
	_, err = l.db.ExecContext(ctx, `INSERT INTO gitops_drift (project, stack, stage, commit_sha, mr, state, summary, resources, error, checked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (project, stack, stage) DO UPDATE SET commit_sha = excluded.commit_sha, mr = excluded.mr,
			state = excluded.state, summary = excluded.summary, resources = excluded.resources,
			error = excluded.error, checked_at = excluded.checked_at`,
		d.Project, d.Stack, d.Stage, d.Commit, d.MR, string(d.State), truncate(d.Summary, maxSummary),
		string(doc), truncate(d.Error, maxError), at)
	if err != nil {
		return fmt.Errorf("save drift of %s/%s: %w", d.Stack, d.Stage, err)
	}
	return nil
}

// Drifts returns the last drift check of each stack and stage of project, sorted by stack then stage;
// empty when none was saved.
func (l *Ledger) Drifts(ctx context.Context, project string) ([]gitops.Drift, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT stack, stage, commit_sha, mr, state, summary, resources, error, checked_at
		FROM gitops_drift WHERE project = $1 ORDER BY stack, stage`, project)
	if err != nil {
		return nil, fmt.Errorf("read drift checks: %w", err)
	}
	defer rows.Close()
	out := []gitops.Drift{}
	for rows.Next() {
		d := gitops.Drift{Project: project}
		var state, doc string
		if err := rows.Scan(&d.Stack, &d.Stage, &d.Commit, &d.MR, &state, &d.Summary, &doc, &d.Error, &d.CheckedAt); err != nil {
			return nil, fmt.Errorf("read drift checks: %w", err)
		}
		d.State, d.CheckedAt = gitops.DriftState(state), d.CheckedAt.UTC()
		if err := json.Unmarshal([]byte(doc), &d.Resources); err != nil {
			return nil, fmt.Errorf("decode drifted resources of %s/%s: %w", d.Stack, d.Stage, err)
		}
		if len(d.Resources) == 0 {
			d.Resources = nil
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read drift checks: %w", err)
	}
	return out, nil
}

package ledger

import (
	"context"
	"errors"
	"fmt"
)

// SeenProject records that the agent served a delivery of project (a path like group/app): an upsert that
// keeps when it was first and last seen. Each call writes; callers remember what they recorded.
func (l *Ledger) SeenProject(ctx context.Context, project string) error {
	if project == "" || len(project) > maxName {
		return errors.New("seen project: a project path of 1 to 255 bytes is required")
	}
	at := now()
	_, err := l.db.ExecContext(ctx, `INSERT INTO gitops_seen_projects (project, first_seen, last_seen) VALUES ($1, $2, $2)
		ON CONFLICT (project) DO UPDATE SET last_seen = excluded.last_seen`, project, at)
	if err != nil {
		return fmt.Errorf("record seen project %s: %w", project, err)
	}
	return nil
}

// SeenProjects returns every project SeenProject recorded, sorted; empty, not nil, when none.
func (l *Ledger) SeenProjects(ctx context.Context) ([]string, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT project FROM gitops_seen_projects ORDER BY project`)
	if err != nil {
		return nil, fmt.Errorf("read seen projects: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("read seen projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read seen projects: %w", err)
	}
	return out, nil
}

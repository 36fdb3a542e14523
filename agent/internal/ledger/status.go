package ledger

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// shortCommit is how many hex digits of a commit the status table shows, as GitLab does.
const shortCommit = 8

// AllLive returns what is live in every project the ledger knows, keyed by project; for `gitops-agent
// status` without a project.
func (l *Ledger) AllLive(ctx context.Context) (map[string][]gitops.Live, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT v.project, v.stack, v.stage, v.commit_sha, v.mr, v.applied_at, r.merged_by
		FROM gitops_live v JOIN gitops_runs r ON r.id = v.run_id ORDER BY v.project, v.stack, v.stage`)
	if err != nil {
		return nil, fmt.Errorf("read live commits: %w", err)
	}
	defer rows.Close()
	out := map[string][]gitops.Live{}
	for rows.Next() {
		var project string
		var v gitops.Live
		if err := rows.Scan(&project, &v.Stack, &v.Stage, &v.Commit, &v.MR, &v.AppliedAt, &v.By); err != nil {
			return nil, fmt.Errorf("read live commits: %w", err)
		}
		v.AppliedAt = v.AppliedAt.UTC()
		out[project] = append(out[project], v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read live commits: %w", err)
	}
	return out, nil
}

// WriteStatus prints live as a table with one row per project, stack and stage: PROJECT, STACK, STAGE,
// COMMIT (its first 8 digits), MR (!iid, or - when unknown), APPLIED (UTC) and BY (@username of who merged
// it, or - when unknown). Projects are sorted, and
// each project's rows keep the order given. Control characters in names are shown as '?' so that a
// hostile name cannot drive the terminal. With nothing live it prints one line saying so.
func WriteStatus(w io.Writer, live map[string][]gitops.Live) error {
	projects := withRows(live)
	if len(projects) == 0 {
		_, err := io.WriteString(w, "No deployments recorded yet.\n")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tSTACK\tSTAGE\tCOMMIT\tMR\tAPPLIED\tBY")
	for _, p := range projects {
		for _, v := range live[p] {
			mr := "-"
			if v.MR > 0 {
				mr = "!" + strconv.Itoa(v.MR)
			}
			by := "-"
			if v.By != "" {
				by = "@" + v.By
			}
			commit := v.Commit
			if len(commit) > shortCommit {
				commit = commit[:shortCommit]
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(p), printable(v.Stack), printable(v.Stage),
				printable(commit), mr, v.AppliedAt.UTC().Format(time.DateTime+" UTC"), printable(by))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// printable replaces control characters (tabs included, which would break the table) and bidirectional
// overrides with '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, s)
}

// AllRollbacks returns every project's rollbacks, newest first, by project.
func (l *Ledger) AllRollbacks(ctx context.Context) (map[string][]gitops.Rollback, error) {
	projects, err := l.Projects(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]gitops.Rollback{}
	for _, p := range projects {
		rbs, err := l.rollbacks(ctx, p, 50)
		if err != nil {
			return nil, err
		}
		if len(rbs) > 0 {
			out[p] = rbs
		}
	}
	return out, nil
}

// WriteRollbacks prints rollbacks, when there are any, as a second table: PROJECT, MR (the merge rolled
// back), COMMIT, STATE, REVERT (!iid of the revert merge request, or -) and WHY. Projects are sorted.
func WriteRollbacks(w io.Writer, rollbacks map[string][]gitops.Rollback) error {
	projects := withRows(rollbacks)
	if len(projects) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nROLLED BACK\tMR\tCOMMIT\tSTATE\tREVERT\tWHY")
	for _, p := range projects {
		for _, rb := range rollbacks[p] {
			revert := "-"
			if rb.RevertMR > 0 {
				revert = "!" + strconv.Itoa(rb.RevertMR)
			}
			commit := rb.Request.Commit
			if len(commit) > shortCommit {
				commit = commit[:shortCommit]
			}
			why := rb.Request.Reason
			if len(why) > 80 {
				why = why[:77] + "..."
			}
			fmt.Fprintf(tw, "%s\t!%d\t%s\t%s\t%s\t%s\n", printable(p), rb.Request.MR, printable(commit), rb.State, revert, printable(why))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write rollbacks: %w", err)
	}
	return nil
}

// withRows are the projects of m that have rows, sorted.
func withRows[V any](m map[string][]V) []string {
	projects := make([]string, 0, len(m))
	for p, rows := range m {
		if len(rows) > 0 {
			projects = append(projects, p)
		}
	}
	sort.Strings(projects)
	return projects
}

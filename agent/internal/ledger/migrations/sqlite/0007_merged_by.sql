-- Who put a run's commit there: the username of whoever merged the merge request the run promotes.
-- Runs recorded before it have ''.
ALTER TABLE gitops_runs ADD COLUMN merged_by TEXT NOT NULL DEFAULT '';

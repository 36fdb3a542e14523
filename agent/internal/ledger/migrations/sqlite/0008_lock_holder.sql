-- The user name a run's terraform ran as in its sandbox, which Terraform's state lock records as its Who
-- (user@host): a resumed step recognises, and releases, a state lock its interrupted run left held.
-- Runs recorded before it, or whose terraform ran unsandboxed, have ''.
ALTER TABLE gitops_runs ADD COLUMN lock_holder TEXT NOT NULL DEFAULT '';
-- Whether a later step of the run's stack × stage ended for good (or the run itself did), so that the
-- state lock the run may have left held is no concern any more. Until then every later step gathers the
-- run (Interrupted) and may release a lock it left held, however many times the agent was stopped
-- since. Runs that finished before it are settled.
ALTER TABLE gitops_runs ADD COLUMN lock_settled BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE gitops_runs SET lock_settled = TRUE WHERE finished_at IS NOT NULL;
CREATE INDEX gitops_runs_unsettled_idx ON gitops_runs (project, stack, stage) WHERE NOT lock_settled;

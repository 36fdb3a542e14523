-- The user name a run's terraform ran as in its sandbox, which Terraform's state lock records as its Who
-- (user@host): a resumed step recognises, and releases, a state lock its interrupted run left held.
-- Runs recorded before it, or whose terraform ran unsandboxed, have ''.
ALTER TABLE gitops_runs ADD COLUMN lock_holder TEXT NOT NULL DEFAULT '';

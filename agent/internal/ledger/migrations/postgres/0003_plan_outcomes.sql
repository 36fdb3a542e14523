-- The last full plan of a merge request's commit, as its note showed it (gitops.PlanOutcome as JSON): a plan of
-- some stacks or stages that a comment asks for later is merged into it, so the note stays whole.
CREATE TABLE gitops_plan_outcomes (
    project    TEXT      NOT NULL,
    mr         INTEGER   NOT NULL,
    commit_sha TEXT      NOT NULL,
    outcome    TEXT      NOT NULL,
    saved_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project, mr)
);

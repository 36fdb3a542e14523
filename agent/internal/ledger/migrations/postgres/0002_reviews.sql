-- What the last plan posted on a merge request showed its reviewers, per stack and stage: promotion compares
-- the plan it is about to apply with it.
CREATE TABLE gitops_reviews (
    project    TEXT        NOT NULL,
    mr         INTEGER     NOT NULL,
    stack      TEXT        NOT NULL,
    stage      TEXT        NOT NULL,
    commit_sha TEXT        NOT NULL,
    changes    TEXT        NOT NULL,
    planned_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project, mr, stack, stage)
);

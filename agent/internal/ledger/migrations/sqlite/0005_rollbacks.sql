-- One rollback per merged commit, ever (gitops.Rollback as JSON): what went back, and the revert merge request.
CREATE TABLE gitops_rollbacks (
    project    TEXT      NOT NULL,
    commit_sha TEXT      NOT NULL,
    mr         INTEGER   NOT NULL DEFAULT 0,
    revert_mr  INTEGER   NOT NULL DEFAULT 0,
    state      TEXT      NOT NULL,
    detail     TEXT      NOT NULL,
    started_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project, commit_sha)
);

CREATE INDEX gitops_rollbacks_revert_idx ON gitops_rollbacks (project, revert_mr);

-- The last drift check of each stack and stage of a project: a plan, without a lock, of the live commit.
-- resources is a JSON array of "ACTION ADDRESS" lines.
CREATE TABLE gitops_drift (
    project    TEXT      NOT NULL,
    stack      TEXT      NOT NULL,
    stage      TEXT      NOT NULL,
    commit_sha TEXT      NOT NULL,
    mr         INTEGER   NOT NULL DEFAULT 0,
    state      TEXT      NOT NULL,
    summary    TEXT      NOT NULL DEFAULT '',
    resources  TEXT      NOT NULL,
    error      TEXT      NOT NULL DEFAULT '',
    checked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project, stack, stage)
);

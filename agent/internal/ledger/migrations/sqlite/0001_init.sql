-- The deployments ledger: every apply run with its outcome, and the commit live per (project, stack, stage).
-- Times are TIMESTAMP columns so that the driver reads them back as time.Time.
CREATE TABLE gitops_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project     TEXT      NOT NULL,
    mr          INTEGER   NOT NULL DEFAULT 0,
    commit_sha  TEXT      NOT NULL,
    stack       TEXT      NOT NULL,
    stage       TEXT      NOT NULL,
    kind        TEXT      NOT NULL,
    state       TEXT      NOT NULL,
    summary     TEXT      NOT NULL DEFAULT '',
    error       TEXT      NOT NULL DEFAULT '',
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);

CREATE INDEX gitops_runs_project_idx ON gitops_runs (project, id DESC);
CREATE INDEX gitops_runs_target_idx ON gitops_runs (project, stack, stage, commit_sha);
CREATE INDEX gitops_runs_unfinished_idx ON gitops_runs (project, stack, stage) WHERE finished_at IS NULL;

CREATE TABLE gitops_live (
    project    TEXT      NOT NULL,
    stack      TEXT      NOT NULL,
    stage      TEXT      NOT NULL,
    commit_sha TEXT      NOT NULL,
    mr         INTEGER   NOT NULL DEFAULT 0,
    run_id     INTEGER   NOT NULL REFERENCES gitops_runs (id),
    applied_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project, stack, stage)
);

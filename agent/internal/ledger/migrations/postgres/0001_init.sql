-- The deployments ledger: every apply run with its outcome, and the commit live per (project, stack, stage).
CREATE TABLE gitops_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project     TEXT        NOT NULL,
    mr          INTEGER     NOT NULL DEFAULT 0,
    commit_sha  TEXT        NOT NULL,
    stack       TEXT        NOT NULL,
    stage       TEXT        NOT NULL,
    kind        TEXT        NOT NULL,
    state       TEXT        NOT NULL,
    summary     TEXT        NOT NULL DEFAULT '',
    error       TEXT        NOT NULL DEFAULT '',
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);

CREATE INDEX gitops_runs_project_idx ON gitops_runs (project, id DESC);
CREATE INDEX gitops_runs_target_idx ON gitops_runs (project, stack, stage, commit_sha);
CREATE INDEX gitops_runs_unfinished_idx ON gitops_runs (project, stack, stage) WHERE finished_at IS NULL;

CREATE TABLE gitops_live (
    project    TEXT        NOT NULL,
    stack      TEXT        NOT NULL,
    stage      TEXT        NOT NULL,
    commit_sha TEXT        NOT NULL,
    mr         INTEGER     NOT NULL DEFAULT 0,
    run_id     BIGINT      NOT NULL REFERENCES gitops_runs (id),
    applied_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project, stack, stage)
);

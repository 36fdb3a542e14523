-- Every release of a function in a stage with its outcome: the versions it moved the alias between (the
-- previous one is where a rollback points it back), the zip's sha256, and the release as the deploy note
-- showed it (gitops.Release as JSON, alarms and traffic moves included).
CREATE TABLE gitops_releases (
    id          BIGSERIAL PRIMARY KEY,
    project     TEXT      NOT NULL,
    mr          INTEGER   NOT NULL DEFAULT 0,
    commit_sha  TEXT      NOT NULL,
    function    TEXT      NOT NULL,
    stage       TEXT      NOT NULL,
    state       TEXT      NOT NULL,
    sha256      TEXT      NOT NULL DEFAULT '',
    old_version TEXT      NOT NULL DEFAULT '',
    new_version TEXT      NOT NULL DEFAULT '',
    detail      TEXT      NOT NULL DEFAULT '{}',
    error       TEXT      NOT NULL DEFAULT '',
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);

CREATE INDEX gitops_releases_target_idx ON gitops_releases (project, function, stage, id DESC);

-- Reasons to roll a merge back (a failed release, an alarm within rollback.watch), one per commit, function,
-- stage and kind, and whether the merge request was told.
CREATE TABLE gitops_triggers (
    id         BIGSERIAL PRIMARY KEY,
    project    TEXT      NOT NULL,
    mr         INTEGER   NOT NULL DEFAULT 0,
    commit_sha TEXT      NOT NULL,
    function   TEXT      NOT NULL,
    stage      TEXT      NOT NULL,
    kind       TEXT      NOT NULL,
    reason     TEXT      NOT NULL DEFAULT '',
    at         TIMESTAMPTZ NOT NULL,
    notified   BOOLEAN   NOT NULL DEFAULT FALSE,
    UNIQUE (project, commit_sha, function, stage, kind)
);

-- The last outcome of each merge request's promotion (gitops.Promotion as JSON), as its deploy note shows it:
-- jobs other than the promotion (the watch after a release) edit the note from it.
CREATE TABLE gitops_promotions (
    project    TEXT      NOT NULL,
    mr         INTEGER   NOT NULL,
    commit_sha TEXT      NOT NULL,
    outcome    TEXT      NOT NULL,
    saved_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project, mr, commit_sha)
);

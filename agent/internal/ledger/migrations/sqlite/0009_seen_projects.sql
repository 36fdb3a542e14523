-- The projects the agent has received a webhook from (after authentication and the allowlist): the poller
-- watches them, besides GITOPS_PROJECTS, to catch the events whose webhooks were lost.
CREATE TABLE gitops_seen_projects (
    project    TEXT PRIMARY KEY,
    first_seen TIMESTAMP NOT NULL,
    last_seen  TIMESTAMP NOT NULL
);

package cli

// serveUsage is the help of `gitops-agent serve -h`: the environment it reads (settings.go).
func serveUsage() string {
	return `usage: gitops-agent serve

Runs the service: the webhook listener, the queue and its workers, the poller and the admin listener
(metrics, /api/v1/deployments). It takes no flags or arguments; it is configured by environment.
Variables marked * may instead name a file holding the value in NAME_FILE.

environment:
  GITLAB_URL               GitLab base URL (default https://gitlab.com)
  GITLAB_TOKEN *           token with api scope (required)
  GITLAB_WEBHOOK_SECRET *  compared with X-Gitlab-Token (required)
  GITOPS_WEBHOOK_SECRETS * per-project webhook secrets: group/project=secret, comma-separated
  GITOPS_LISTEN            webhook listen address (default :8080)
  GITOPS_ADMIN_LISTEN      admin listen address: metrics and the API (default 127.0.0.1:9090)
  GITOPS_DATA_DIR          work dirs, plugin caches, the SQLite database; mode 0700 (default ./.gitops-data)
  DATABASE_URL *           postgres:// URL; empty: SQLite in the data dir
  TF_BINARY                the Terraform-compatible binary (default terraform on PATH, else tofu)
  GITOPS_PROVIDER_MIRROR   https URL of the provider network mirror (default each provider's registry)
  GITOPS_SANDBOX           how terraform runs are sealed off: auto, namespaces, uid or off (default auto)
  GITOPS_SANDBOX_DIR       the sandboxed runs' files (default the data dir's path + .sandbox)
  GITOPS_SANDBOX_WRITABLE  absolute paths every run may write (a path list; e.g. local state dirs)
  GITOPS_PROJECTS          projects (path or id, comma-separated) served and polled (default every project
                           served; the poller then watches every project a webhook came from)
  GITOPS_DEPLOY_BRANCHES   branches whose merges are promoted (default the project's default branch)
  GITOPS_POLL_INTERVAL     how often the poller looks for missed events (default 60s; 0 disables it)
  GITOPS_SPOOL_DIR         where webhooks wait while the database does not answer (default <data dir>/spool)
  GITOPS_SPOOL_MAX_BYTES   the spool's bound on disk, e.g. 256MiB (default 256MiB)
  GITOPS_DRIFT_INTERVAL    how often each project's live stacks are planned for drift, spread over the
                           interval; drift opens one gitops::drift issue (default 6h; 0 disables it)
  GITOPS_MAX_PARALLEL      concurrent terraform runs (default the CPU count)
  GITOPS_POLICY_DIR        server-side policy dirs every repo gets (a path list)
  GITOPS_ALLOWED_ROLES     the role ARNs stages may assume
  GITOPS_AWS_EXTERNAL_ID   external id sent when assuming a stage's role_arn
  AWS_ENDPOINT_URL_STS     STS endpoint override
  AWS_ENDPOINT_URL_LAMBDA  Lambda endpoint override (releases)
  AWS_ENDPOINT_URL_CLOUDWATCH  CloudWatch endpoint override (alarms and dashboards of releases)
  GITOPS_ALARM_POLL        how often releases read their alarms, during bakes and the watch after (default 30s)
  LOG_LEVEL                debug, info, warn or error (default info); logs are JSON on stderr
  GITOPS_GITLAB_MAX_IN_FLIGHT  requests in flight towards GitLab at once; 0 no bound (default 8)
  GITOPS_GITLAB_TIMEOUT    how long a GitLab request waits for its answer to start (default 30s)
  GITOPS_LOCK_TIMEOUT      how long a promotion waits for the terraform state lock (default 5m)
  GITOPS_STEP_TIMEOUT      deadline of one terraform, build or release step; bakes excluded (default 30m)
  GITOPS_SHUTDOWN_TIMEOUT  on SIGTERM, how long running jobs may finish (default 30s)
  GITOPS_REPLICA_ID        this replica's name among those sharing DATABASE_URL, unique among the live ones
                           (default the host name and a suffix unique to the process)
  GITOPS_DEAD_AFTER        a replica silent this long is dead: another resumes its jobs at once (default 1m)
  GITOPS_RESCUE_AFTER      how long a job may run before it is taken for hung and run again (default 2h15m)

Exit codes: 0 stopped cleanly; 2 an error.
`
}

# The agent's secrets. Terraform creates each secret without a value: the operator puts the values
# (README, "First deployment"), so no secret value is ever in a file or in Terraform's state. The tasks
# get them as files (ecs.tf), written by the init container.

locals {
  # By the environment variable the init container receives each in: the secret's name under
  # <project>-agent/, the file the init container writes under /run/gitops, what it holds.
  agent_secrets = merge(
    {
      GITLAB_TOKEN = {
        name        = "gitlab-token"
        file        = "gitlab-token"
        description = "GitLab token with api scope the agent uses (GITLAB_TOKEN_FILE)"
      }
      GITLAB_WEBHOOK_SECRET = {
        name        = "webhook-secret"
        file        = "gitlab-webhook-secret"
        description = "Secret GitLab sends in X-Gitlab-Token with every webhook (GITLAB_WEBHOOK_SECRET_FILE)"
      }
      DATABASE_URL = {
        name        = "database-url"
        file        = "database-url"
        description = "postgres:// URL of the agent's queue and ledger, as the agent's own database role (DATABASE_URL_FILE)"
      }
      RDS_CA_BUNDLE = {
        name        = "rds-ca-bundle"
        file        = "rds-ca.pem"
        description = "Amazon RDS certificate bundle of the region (PEM), the sslrootcert of DATABASE_URL"
      }
    },
    var.per_project_webhook_secrets ? {
      GITOPS_WEBHOOK_SECRETS = {
        name        = "webhook-secrets"
        file        = "webhook-secrets"
        description = "Per-project webhook secrets, one group/project=secret a line (GITOPS_WEBHOOK_SECRETS_FILE)"
      }
    } : {},
  )

  secrets_dir = "/run/gitops"
}

resource "aws_secretsmanager_secret" "agent" {
  for_each = local.agent_secrets

  name                    = "${local.name}/${each.value.name}"
  description             = each.value.description
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}

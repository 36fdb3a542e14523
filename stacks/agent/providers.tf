provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = merge(var.extra_tags, {
      Project   = var.project
      Stage     = var.stage
      Stack     = "agent"
      ManagedBy = "gitops-agent"
    })
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  # Account-level like cicd: one agent per account, named after the project, not the stage. Every name
  # starts with <project>-agent, which is what the cicd stack's deploy_agent policy is scoped to.
  name       = "${var.project}-agent"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  webhook_port  = 8080
  admin_port    = 9090
  postgres_port = 5432
}

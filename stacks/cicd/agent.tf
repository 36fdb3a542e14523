# The agent's own role: it may only assume the per-stage deploy roles (promotions) and the per-stage
# read-only plan roles (merge request plans, drift checks; plan_roles.tf), sending the external id.

data "aws_iam_policy_document" "agent_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = var.agent_trusted_services
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "agent" {
  name                 = "${var.project}-agent"
  description          = "gitops-agent service: assumes the per-stage deploy and plan roles"
  assume_role_policy   = data.aws_iam_policy_document.agent_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "agent" {
  statement {
    sid       = "AssumeDeployRoles"
    actions   = ["sts:AssumeRole", "sts:TagSession"]
    resources = [for r in aws_iam_role.deploy : r.arn]
  }

  statement {
    sid       = "AssumePlanRoles"
    actions   = ["sts:AssumeRole", "sts:TagSession"]
    resources = [for r in aws_iam_role.plan : r.arn]
  }
}

resource "aws_iam_role_policy" "agent" {
  name   = "assume-deploy-roles"
  role   = aws_iam_role.agent.id
  policy = data.aws_iam_policy_document.agent.json
}

# Created outside Terraform so its value is in no file; see the README.
data "aws_ssm_parameter" "external_id" {
  name            = var.external_id_parameter
  with_decryption = true
}

# The trust of the deploy roles and of the plan roles: only the agent role, with the external id.
data "aws_iam_policy_document" "deploy_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.agent.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [data.aws_ssm_parameter.external_id.value]
    }
  }
}

resource "aws_iam_role" "deploy" {
  for_each = toset(var.deploy_stages)

  name                 = "${var.project}-deploy-${each.value}"
  description          = "gitops-agent applies the ${each.value} stage and releases its function"
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust.json
  max_session_duration = 3600

  lifecycle {
    precondition {
      condition     = contains(keys(var.state_buckets), each.value)
      error_message = "state_buckets has no bucket for stage ${each.value}."
    }
  }
}

# Managed policies: a stage's permissions exceed what inline policies of one role may hold.
resource "aws_iam_policy" "deploy_infrastructure" {
  for_each = toset(var.deploy_stages)

  name        = "${var.project}-deploy-${each.value}-infrastructure"
  description = "Apply the ${each.value} stage: state, network, keys, roles, database and cache"
  policy      = data.aws_iam_policy_document.deploy_infrastructure[each.value].json
}

resource "aws_iam_policy" "deploy_application" {
  for_each = toset(var.deploy_stages)

  name        = "${var.project}-deploy-${each.value}-application"
  description = "Apply the ${each.value} stage: objects, secrets, logs, function, API, WAF, DNS, alarms; release the function"
  policy      = data.aws_iam_policy_document.deploy_application[each.value].json
}

resource "aws_iam_policy" "deploy_cicd" {
  name        = "${var.project}-deploy-cicd"
  description = "Apply the cicd stack: CI/CD roles, OIDC provider, artifacts bucket"
  policy      = data.aws_iam_policy_document.deploy_cicd.json
}

resource "aws_iam_policy" "deploy_agent" {
  name        = "${var.project}-deploy-agent"
  description = "Apply the agent stack: the agent's VPC, load balancer, WAF, ECS service, repository, database, secrets, alarms"
  policy      = data.aws_iam_policy_document.deploy_agent.json
}

resource "aws_iam_role_policy_attachment" "deploy_infrastructure" {
  for_each = toset(var.deploy_stages)

  role       = aws_iam_role.deploy[each.value].name
  policy_arn = aws_iam_policy.deploy_infrastructure[each.value].arn
}

resource "aws_iam_role_policy_attachment" "deploy_application" {
  for_each = toset(var.deploy_stages)

  role       = aws_iam_role.deploy[each.value].name
  policy_arn = aws_iam_policy.deploy_application[each.value].arn
}

resource "aws_iam_role_policy_attachment" "deploy_cicd" {
  count = contains(var.deploy_stages, var.cicd_stage) ? 1 : 0

  role       = aws_iam_role.deploy[var.cicd_stage].name
  policy_arn = aws_iam_policy.deploy_cicd.arn
}

# The cicd stage's deploy role also applies the agent stack (.gitops.yaml: agent, stages [prod]).
resource "aws_iam_role_policy_attachment" "deploy_agent" {
  count = contains(var.deploy_stages, var.cicd_stage) ? 1 : 0

  role       = aws_iam_role.deploy[var.cicd_stage].name
  policy_arn = aws_iam_policy.deploy_agent.arn
}

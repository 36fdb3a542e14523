# Read-only plan roles: merge request plans and drift checks of a stage run `terraform plan` with its plan
# role (the stage's plan_role_arn in .gitops.yaml); only promotions, after merge, use the deploy role. A
# merge request is untrusted code, so a plan role may only read: what the refresh of every resource of the
# stage's stacks and their lookups read, and the stage's state. It holds no write action at all, no secret
# value and no invocation (policies/iam.rego, IAM_003, checks it on every plan of this stack).
#
# The S3 backend locks with a lock file (use_lockfile): locking needs s3:PutObject and s3:DeleteObject on
# <key>.tflock. The agent plans merge requests and drift with -lock=false, so a plan role needs no write
# there either: a plan that tries to lock fails rather than writes.

resource "aws_iam_role" "plan" {
  for_each = toset(var.deploy_stages)

  name                 = "${var.project}-plan-${each.value}"
  description          = "gitops-agent plans merge requests and checks drift in the ${each.value} stage: read only"
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust.json
  max_session_duration = 3600

  lifecycle {
    precondition {
      condition     = contains(keys(var.state_buckets), each.value)
      error_message = "state_buckets has no bucket for stage ${each.value}."
    }
  }
}

data "aws_iam_policy_document" "plan" {
  for_each = toset(var.deploy_stages)

  statement {
    sid       = "ListTerraformStateBucket"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${lookup(var.state_buckets, each.value, "")}"]
  }

  # Read only: no PutObject or DeleteObject, not even on the *.tflock lock files (plans run -lock=false).
  statement {
    sid       = "ReadTerraformState"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${lookup(var.state_buckets, each.value, "")}/*"]
  }

  statement {
    sid       = "WhoAmI"
    actions   = ["sts:GetCallerIdentity"]
    resources = ["*"]
  }

  # The same region-wide reads as the deploy role's: these Describe and List calls support no (or
  # barely any) resource-level permissions.
  statement {
    sid = "DescribeInRegion"
    actions = [
      "ec2:Describe*",
      "rds:Describe*", "rds:ListTagsForResource",
      "elasticache:Describe*", "elasticache:ListTagsForResource",
      "kms:ListAliases",
      "wafv2:Get*", "wafv2:List*",
      "acm:ListCertificates",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  # Key metadata only: no Decrypt, Encrypt or GenerateDataKey.
  statement {
    sid       = "ReadKeys"
    actions   = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"]
    resources = ["${local.arn_prefix.kms}:key/*"]
  }

  statement {
    sid       = "ReadStageBucket"
    actions   = local.s3_bucket_read_actions
    resources = ["arn:${local.partition}:s3:::${var.project}-${each.value}-objects-${local.account_id}"]
  }

  # Never secretsmanager:GetSecretValue: a merge request's plan must not read secret values.
  statement {
    sid       = "DescribeStageSecrets"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"]
    resources = ["${local.arn_prefix.secretsmanager}:secret:${var.project}-${each.value}/*"]
  }

  statement {
    sid       = "DescribeLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["${local.arn_prefix.logs}:log-group:*"]
  }

  statement {
    sid     = "ReadStageLogGroupTags"
    actions = ["logs:ListTagsForResource", "logs:ListTagsLogGroup"]
    resources = [
      "${local.arn_prefix.logs}:log-group:/vpc/${var.project}-${each.value}/*",
      "${local.arn_prefix.logs}:log-group:/aws/rds/cluster/${var.project}-${each.value}/*",
      "${local.arn_prefix.logs}:log-group:/aws/lambda/${var.project}-${each.value}-*",
      "${local.arn_prefix.logs}:log-group:/aws/apigateway/${var.project}-${each.value}-*",
      "${local.arn_prefix.logs}:log-group:aws-waf-logs-${var.project}-${each.value}-*",
    ]
  }

  # Never lambda:InvokeFunction: a merge request's plan must not run code.
  statement {
    sid     = "ReadStageFunction"
    actions = ["lambda:Get*", "lambda:List*"]
    resources = [
      "${local.arn_prefix.lambda}:function:${var.project}-${each.value}-api",
      "${local.arn_prefix.lambda}:function:${var.project}-${each.value}-api:*",
    ]
  }

  # API Gateway ARNs carry generated ids; GET is its only read action.
  statement {
    sid       = "ReadApi"
    actions   = ["apigateway:GET"]
    resources = ["arn:${local.partition}:apigateway:${local.region}::/*"]
  }

  statement {
    sid       = "ReadCertificates"
    actions   = ["acm:DescribeCertificate", "acm:ListTagsForCertificate"]
    resources = ["${local.arn_prefix.acm}:certificate/*"]
  }

  # Route 53 is global: no region condition.
  statement {
    sid       = "ReadDns"
    actions   = ["route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ListTagsForResource", "route53:GetChange"]
    resources = ["arn:${local.partition}:route53:::hostedzone/*", "arn:${local.partition}:route53:::change/*"]
  }

  statement {
    sid     = "ReadStageAlarmsAndDashboard"
    actions = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "cloudwatch:GetDashboard"]
    resources = [
      "${local.arn_prefix.cloudwatch}:alarm:${var.project}-${each.value}-*",
      "arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${var.project}-${each.value}-*",
    ]
  }

  statement {
    sid       = "ReadStageTopic"
    actions   = ["sns:GetTopicAttributes", "sns:GetSubscriptionAttributes", "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource"]
    resources = ["${local.arn_prefix.sns}:${var.project}-${each.value}-*"]
  }

  statement {
    sid       = "ReadStageRoles"
    actions   = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListRoleTags"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${var.project}-${each.value}-*"]
  }
}

resource "aws_iam_role_policy" "plan" {
  for_each = toset(var.deploy_stages)

  name   = "read-stage"
  role   = aws_iam_role.plan[each.value].name
  policy = data.aws_iam_policy_document.plan[each.value].json
}

# The stage that applies the cicd stack also plans it: its plan role reads this stack's roles, policies,
# OIDC provider, artifacts bucket and key, and the external id parameter the deploy roles' trust holds
# (ssm:GetParameter only, on that one parameter: a SecureString under the AWS managed key aws/ssm, whose
# key policy lets SSM decrypt it for the account; a customer key would need kms:Decrypt, which IAM_003
# refuses in a plan role). The value is in this stack's state anyway, which the role reads.
data "aws_iam_policy_document" "plan_cicd" {
  statement {
    sid     = "ReadCicdRoles"
    actions = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListRoleTags"]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-ci",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-agent",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-deploy-*",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-plan-*",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-apigateway-logs",
    ]
  }

  statement {
    sid       = "ReadDeployPolicies"
    actions   = ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListPolicyTags"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:policy/${var.project}-deploy-*"]
  }

  statement {
    sid       = "ReadGitlabOidcProvider"
    actions   = ["iam:GetOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.gitlab_host}"]
  }

  statement {
    sid       = "ReadArtifactsBucket"
    actions   = local.s3_bucket_read_actions
    resources = [aws_s3_bucket.artifacts.arn]
  }

  statement {
    sid       = "ReadExternalId"
    actions   = ["ssm:GetParameter"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.external_id_parameter}"]
  }
}

resource "aws_iam_role_policy" "plan_cicd" {
  count = contains(var.deploy_stages, var.cicd_stage) ? 1 : 0

  name   = "read-cicd"
  role   = aws_iam_role.plan[var.cicd_stage].name
  policy = data.aws_iam_policy_document.plan_cicd.json
}

# The cicd stage's plan role also plans the agent stack: what refreshing its resources reads beyond the
# stage-wide reads above (EC2, RDS, WAF, ACM, Route 53 zones, KMS key metadata, log groups). Read only,
# like the rest (IAM_003); never a secret value.
data "aws_iam_policy_document" "plan_agent" {
  statement {
    sid       = "DescribeAgentServicesInRegion"
    actions   = ["ecs:Describe*", "ecs:List*", "elasticloadbalancing:Describe*"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  # Route 53 is global: no region condition. The agent stack looks its zone up by name.
  statement {
    sid       = "FindHostedZone"
    actions   = ["route53:ListHostedZones", "route53:ListHostedZonesByName"]
    resources = ["*"]
  }

  statement {
    sid       = "ReadAgentRepository"
    actions   = ["ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy", "ecr:ListTagsForResource"]
    resources = ["${local.arn_prefix.ecr}:repository/${local.agent_name}"]
  }

  statement {
    sid       = "DescribeAgentSecrets"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"]
    resources = ["${local.arn_prefix.secretsmanager}:secret:${local.agent_name}/*"]
  }

  statement {
    sid     = "ReadAgentLogGroups"
    actions = ["logs:ListTagsForResource", "logs:ListTagsLogGroup", "logs:DescribeMetricFilters"]
    resources = [
      "${local.arn_prefix.logs}:log-group:/ecs/${local.agent_name}*",
      "${local.arn_prefix.logs}:log-group:/aws/rds/cluster/${local.agent_name}/*",
      "${local.arn_prefix.logs}:log-group:aws-waf-logs-${local.agent_name}*",
    ]
  }

  statement {
    sid       = "ReadAgentAlarms"
    actions   = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"]
    resources = ["${local.arn_prefix.cloudwatch}:alarm:${local.agent_name}-*"]
  }

  statement {
    sid       = "ReadAgentTopic"
    actions   = ["sns:GetTopicAttributes", "sns:GetSubscriptionAttributes", "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource"]
    resources = ["${local.arn_prefix.sns}:${local.agent_name}-*"]
  }

  statement {
    sid       = "ReadAgentExecutionRole"
    actions   = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListRoleTags"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${local.agent_name}-*"]
  }
}

resource "aws_iam_role_policy" "plan_agent" {
  count = contains(var.deploy_stages, var.cicd_stage) ? 1 : 0

  name   = "read-agent"
  role   = aws_iam_role.plan[var.cicd_stage].name
  policy = data.aws_iam_policy_document.plan_agent.json
}

# The task role is the cicd stack's agent role, found by name: it may only assume the stages' deploy and
# plan roles, whose trust requires the external id. The execution role below is what ECS itself uses to
# start the tasks: pull the image, write the log group, read the agent's secrets and the external id.

data "aws_iam_role" "agent" {
  name = "${var.project}-agent"
}

locals {
  external_id_parameter_arn = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.external_id_parameter}"
}

data "aws_iam_policy_document" "execution_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name                 = "${local.name}-execution"
  description          = "ECS starts the agent's tasks: image, logs, the agent's secrets"
  assume_role_policy   = data.aws_iam_policy_document.execution_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "execution" {
  # GetAuthorizationToken has no resource-level permissions.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullAgentImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.agent.arn]
  }

  # The image's layers are encrypted with the agent key; ECR decrypts them for the pull.
  statement {
    sid       = "DecryptAgentImage"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.agent.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ecr.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "WriteAgentLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.agent.arn}:*"]
  }

  statement {
    sid       = "ReadAgentSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for s in aws_secretsmanager_secret.agent : s.arn]
  }

  statement {
    sid       = "DecryptAgentSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.secrets.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  # A SecureString under the AWS managed key aws/ssm, whose key policy lets SSM decrypt it for the
  # account: no kms statement is needed for it.
  statement {
    sid       = "ReadExternalId"
    actions   = ["ssm:GetParameters"]
    resources = [local.external_id_parameter_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "start-agent-tasks"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# GitLab CI authenticates with OIDC: no IAM user and no access key exist. Only jobs of the protected main
# branch of this repository may assume the CI role.

locals {
  gitlab_host     = trimprefix(var.gitlab_url, "https://")
  gitlab_audience = var.gitlab_audience == "" ? var.gitlab_url : var.gitlab_audience
  ci_subject      = "project_path:${var.gitlab_project_path}:ref_type:branch:ref:main"
}

resource "aws_iam_openid_connect_provider" "gitlab" {
  url            = var.gitlab_url
  client_id_list = [local.gitlab_audience]
}

data "aws_iam_policy_document" "ci_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.gitlab.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.gitlab_host}:aud"
      values   = [local.gitlab_audience]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.gitlab_host}:sub"
      values   = [local.ci_subject]
    }
  }
}

resource "aws_iam_role" "ci" {
  name                 = "${var.project}-ci"
  description          = "GitLab CI of ${var.gitlab_project_path}, protected main branch only"
  assume_role_policy   = data.aws_iam_policy_document.ci_trust.json
  max_session_duration = 3600
}

# CI builds the Lambda and uploads the artifact; it deploys nothing itself (the agent releases).
data "aws_iam_policy_document" "ci" {
  statement {
    sid       = "UploadLambdaArtifacts"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/lambda/*"]
  }

  statement {
    sid       = "EncryptArtifacts"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.artifacts.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "ci" {
  name   = "upload-artifacts"
  role   = aws_iam_role.ci.id
  policy = data.aws_iam_policy_document.ci.json
}

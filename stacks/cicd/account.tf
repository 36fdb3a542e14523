# Account-wide API Gateway setting: the role API Gateway writes access and execution logs with. It is one
# per account and region, so it lives in this account-level stack rather than in each stage's api stack.

data "aws_iam_policy_document" "apigateway_logs_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "apigateway_logs" {
  name               = "${var.project}-apigateway-logs"
  description        = "API Gateway writes access and execution logs"
  assume_role_policy = data.aws_iam_policy_document.apigateway_logs_trust.json
}

data "aws_iam_policy_document" "apigateway_logs" {
  statement {
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "apigateway_logs" {
  name   = "write-logs"
  role   = aws_iam_role.apigateway_logs.id
  policy = data.aws_iam_policy_document.apigateway_logs.json
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.apigateway_logs.arn
}

# The function's role: exactly what the API does, on exactly its resources.

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = local.function_name
  description        = "${local.name} API function"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  # Network interfaces in the VPC; these EC2 actions support no resource-level restriction.
  statement {
    sid       = "ManageVpcNetworkInterfaces"
    actions   = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "ConnectToDatabaseThroughProxy"
    actions   = ["rds-db:connect"]
    resources = ["arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${local.proxy_resource_id}/${local.db_user}"]
  }

  statement {
    sid     = "ConnectToCache"
    actions = ["elasticache:Connect"]
    resources = [
      data.aws_elasticache_replication_group.this.arn,
      "arn:${local.partition}:elasticache:${local.region}:${local.account_id}:user:${local.cache_user}",
    ]
  }

  statement {
    sid       = "ReadWriteObjectsUnderPrefix"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion"]
    resources = ["${data.aws_s3_bucket.objects.arn}/${var.objects_prefix}*"]
  }

  statement {
    sid       = "ListObjectsUnderPrefix"
    actions   = ["s3:ListBucket"]
    resources = [data.aws_s3_bucket.objects.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.objects_prefix}*"]
    }
  }

  statement {
    sid       = "UseObjectsKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [data.aws_kms_alias.objects.target_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "DecryptEnvironment"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.api.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["lambda.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "api"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

# The API function and its alias "live". Terraform owns the function's configuration; the agent owns
# releases: it uploads code, publishes versions and moves the alias (with weighted routing during a
# canary), so the code, the alias version and its routing are ignored here.

locals {
  function_name = "${local.name}-api"
}

resource "aws_cloudwatch_log_group" "lambda" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.api.arn
}

resource "aws_lambda_function" "api" {
  function_name = local.function_name
  description   = "${local.name} documents API"
  role          = aws_iam_role.lambda.arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"
  memory_size   = var.lambda_memory_mb
  timeout       = var.lambda_timeout_seconds
  kms_key_arn   = aws_kms_key.api.arn
  publish       = true

  # First version only: a placeholder answering 503 until the agent releases the real build.
  filename = "${path.module}/placeholder/bootstrap.zip"

  reserved_concurrent_executions = var.lambda_reserved_concurrency

  vpc_config {
    subnet_ids         = data.aws_subnets.private.ids
    security_group_ids = [data.aws_security_group.lambda.id]
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.lambda.name
    application_log_level = var.lambda_log_level
    system_log_level      = "WARN"
  }

  # Exactly the variables the function reads (lambda/README.md); a test in lambda/ holds the two together.
  environment {
    variables = {
      LOG_LEVEL      = var.lambda_log_level
      DB_HOST        = data.aws_db_proxy.this.endpoint
      DB_PORT        = "5432"
      DB_NAME        = data.aws_rds_cluster.this.database_name
      DB_USER        = local.db_user
      DB_IAM_AUTH    = "true"
      REDIS_ADDR     = "${data.aws_elasticache_replication_group.this.primary_endpoint_address}:${data.aws_elasticache_replication_group.this.port}"
      REDIS_TLS      = "true"
      REDIS_IAM_AUTH = "true"
      REDIS_USERNAME = local.cache_user
      REDIS_CACHE_ID = data.aws_elasticache_replication_group.this.replication_group_id
      BUCKET         = data.aws_s3_bucket.objects.bucket
      S3_KEY_PREFIX  = var.objects_prefix
      KMS_KEY_ID     = data.aws_kms_alias.objects.target_key_arn
    }
  }

  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]

  # The agent owns releases: it uploads the code.
  lifecycle {
    ignore_changes = [filename, source_code_hash, s3_bucket, s3_key, s3_object_version, image_uri]
  }
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  description      = "Serves the API; the agent moves it on every release"
  function_name    = aws_lambda_function.api.function_name
  function_version = aws_lambda_function.api.version

  # The agent owns releases: it moves the version and the canary's weighted routing.
  lifecycle {
    ignore_changes = [function_version, routing_config]
  }
}

resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowApiGatewayInvokeLive"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  qualifier     = aws_lambda_alias.live.name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/*"
}

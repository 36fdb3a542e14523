# Alarms on every part of the platform. Those marked canary are the ones a release watches: the agent
# rolls a canary back when one of them fires (see the canary_alarm_names output).

locals {
  lambda_live = {
    FunctionName = local.function_name
    Resource     = "${local.function_name}:${local.alias_name}"
  }
  api = {
    ApiName = local.api_name
    Stage   = var.stage
  }

  metric_alarms = {
    "lambda-errors-live" = {
      description = "API function errors on the alias ${local.alias_name}"
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = local.lambda_live
      statistic   = "Sum"
      threshold   = var.lambda_error_threshold
      canary      = true
    }
    "lambda-throttles-live" = {
      description = "API function invocations throttled on the alias ${local.alias_name}"
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = local.lambda_live
      statistic   = "Sum"
      threshold   = 0
      canary      = true
    }
    "lambda-duration-p99-live" = {
      description = "API function p99 duration (ms) on the alias ${local.alias_name}"
      namespace   = "AWS/Lambda"
      metric      = "Duration"
      dimensions  = local.lambda_live
      statistic   = "p99"
      threshold   = var.lambda_duration_p99_ms
      canary      = true
    }
    "api-5xx" = {
      description = "API 5XX responses"
      namespace   = "AWS/ApiGateway"
      metric      = "5XXError"
      dimensions  = local.api
      statistic   = "Sum"
      threshold   = var.api_5xx_threshold
      canary      = true
    }
    "api-latency-p99" = {
      description = "API p99 latency (ms)"
      namespace   = "AWS/ApiGateway"
      metric      = "Latency"
      dimensions  = local.api
      statistic   = "p99"
      threshold   = var.api_latency_p99_ms
      canary      = true
    }
    "aurora-cpu" = {
      description = "Aurora CPU utilisation (%)"
      namespace   = "AWS/RDS"
      metric      = "CPUUtilization"
      dimensions  = { DBClusterIdentifier = data.aws_rds_cluster.this.cluster_identifier }
      statistic   = "Average"
      threshold   = var.db_cpu_percent
      canary      = false
    }
    "aurora-connections" = {
      description = "Aurora database connections"
      namespace   = "AWS/RDS"
      metric      = "DatabaseConnections"
      dimensions  = { DBClusterIdentifier = data.aws_rds_cluster.this.cluster_identifier }
      statistic   = "Maximum"
      threshold   = var.db_max_connections
      canary      = false
    }
    "proxy-session-pinning" = {
      description = "RDS Proxy client connections pinned to a database session"
      namespace   = "AWS/RDS"
      metric      = "DatabaseConnectionsCurrentlySessionPinned"
      dimensions  = { ProxyName = data.aws_db_proxy.this.name }
      statistic   = "Maximum"
      threshold   = var.proxy_pinned_sessions
      canary      = false
    }
  }

  # Per executed version: a Metrics Insights query groups the alias's metrics by the version that ran
  # and keeps the worst one, so a canary version misbehaving alarms even while it gets little traffic.
  # Metrics Insights has no percentiles: duration uses the maximum.
  version_alarms = {
    "lambda-errors-by-version" = {
      description = "API function errors of the worst executed version behind ${local.alias_name}"
      query       = "SELECT SUM(Errors) FROM SCHEMA(\"AWS/Lambda\", ExecutedVersion, FunctionName, Resource) WHERE FunctionName = '${local.function_name}' AND Resource = '${local.function_name}:${local.alias_name}' GROUP BY ExecutedVersion ORDER BY SUM() DESC LIMIT 1"
      threshold   = var.lambda_error_threshold
    }
    "lambda-duration-by-version" = {
      description = "API function maximum duration (ms) of the slowest executed version behind ${local.alias_name}"
      query       = "SELECT MAX(Duration) FROM SCHEMA(\"AWS/Lambda\", ExecutedVersion, FunctionName, Resource) WHERE FunctionName = '${local.function_name}' AND Resource = '${local.function_name}:${local.alias_name}' GROUP BY ExecutedVersion ORDER BY MAX() DESC LIMIT 1"
      threshold   = 2 * var.lambda_duration_p99_ms
    }
  }

  # ElastiCache publishes per node: one alarm per metric and cache cluster of the replication group.
  cache_metrics = {
    "cpu" = {
      metric    = "EngineCPUUtilization"
      statistic = "Average"
      threshold = var.cache_cpu_percent
    }
    "memory" = {
      metric    = "DatabaseMemoryUsagePercentage"
      statistic = "Maximum"
      threshold = var.cache_memory_percent
    }
    "evictions" = {
      metric    = "Evictions"
      statistic = "Sum"
      threshold = 0
    }
  }
  cache_alarms = {
    for pair in setproduct(keys(local.cache_metrics), data.aws_elasticache_replication_group.this.member_clusters) :
    "cache-${pair[0]}-${pair[1]}" => merge(local.cache_metrics[pair[0]], { cluster = pair[1] })
  }
}

resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each = local.metric_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = startswith(each.value.statistic, "p") ? null : each.value.statistic
  extended_statistic  = startswith(each.value.statistic, "p") ? each.value.statistic : null
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  # A release watches every alarm named <name>-lambda-* or <name>-api-* (.gitops.yaml), and only those.
  lifecycle {
    precondition {
      condition     = each.value.canary == (startswith(each.key, "lambda-") || startswith(each.key, "api-"))
      error_message = "Alarm ${each.key}: canary alarms, and only they, are named lambda-* or api-*."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "version" {
  for_each = local.version_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "worst_version"
    expression  = each.value.query
    period      = 60
    label       = each.value.description
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "cache" {
  for_each = local.cache_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = "Cache ${each.value.metric} on ${each.value.cluster}"
  namespace           = "AWS/ElastiCache"
  metric_name         = each.value.metric
  dimensions          = { CacheClusterId = each.value.cluster }
  statistic           = each.value.statistic
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

locals {
  canary_alarm_names = concat(
    [for k, a in local.metric_alarms : aws_cloudwatch_metric_alarm.metric[k].alarm_name if a.canary],
    [for k, _ in local.version_alarms : aws_cloudwatch_metric_alarm.version[k].alarm_name],
  )
  all_alarm_arns = concat(
    [for a in aws_cloudwatch_metric_alarm.metric : a.arn],
    [for a in aws_cloudwatch_metric_alarm.version : a.arn],
    [for a in aws_cloudwatch_metric_alarm.cache : a.arn],
  )
}

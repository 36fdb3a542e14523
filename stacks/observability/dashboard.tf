# One dashboard per stage: the API, the function, the database and the cache, and every alarm's state.

locals {
  dashboard_name = "${local.name}-platform"

  widget = {
    lambda = [
      ["AWS/Lambda", "Invocations", "FunctionName", local.function_name, "Resource", "${local.function_name}:${local.alias_name}", { stat = "Sum" }],
      [".", "Errors", ".", ".", ".", ".", { stat = "Sum" }],
      [".", "Throttles", ".", ".", ".", ".", { stat = "Sum" }],
    ]
    lambda_duration = [
      ["AWS/Lambda", "Duration", "FunctionName", local.function_name, "Resource", "${local.function_name}:${local.alias_name}", { stat = "p50" }],
      ["...", { stat = "p99" }],
    ]
    api = [
      ["AWS/ApiGateway", "Count", "ApiName", local.api_name, "Stage", var.stage, { stat = "Sum" }],
      [".", "4XXError", ".", ".", ".", ".", { stat = "Sum" }],
      [".", "5XXError", ".", ".", ".", ".", { stat = "Sum" }],
    ]
    api_latency = [
      ["AWS/ApiGateway", "Latency", "ApiName", local.api_name, "Stage", var.stage, { stat = "p99" }],
      [".", "IntegrationLatency", ".", ".", ".", ".", { stat = "p99" }],
    ]
    database = [
      ["AWS/RDS", "CPUUtilization", "DBClusterIdentifier", data.aws_rds_cluster.this.cluster_identifier],
      [".", "DatabaseConnections", ".", ".", { yAxis = "right" }],
      [".", "ServerlessDatabaseCapacity", ".", ".", { yAxis = "right" }],
    ]
    proxy = [
      ["AWS/RDS", "ClientConnections", "ProxyName", data.aws_db_proxy.this.name],
      [".", "DatabaseConnectionsCurrentlySessionPinned", ".", "."],
    ]
    cache = flatten([
      for c in data.aws_elasticache_replication_group.this.member_clusters : [
        ["AWS/ElastiCache", "EngineCPUUtilization", "CacheClusterId", c],
        [".", "DatabaseMemoryUsagePercentage", ".", "."],
        [".", "Evictions", ".", ".", { stat = "Sum", yAxis = "right" }],
      ]
    ])
  }

  widget_titles = {
    lambda          = "Function on ${local.alias_name}: invocations, errors, throttles"
    lambda_duration = "Function duration (ms)"
    api             = "API requests and errors"
    api_latency     = "API latency p99 (ms)"
    database        = "Aurora"
    proxy           = "RDS Proxy"
    cache           = "Cache"
  }
  widget_order = ["api", "api_latency", "lambda", "lambda_duration", "database", "proxy", "cache"]
}

resource "aws_cloudwatch_dashboard" "platform" {
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({
    widgets = concat(
      [{
        type   = "alarm"
        x      = 0
        y      = 0
        width  = 24
        height = 4
        properties = {
          title  = "Alarms"
          alarms = local.all_alarm_arns
        }
      }],
      [for i, key in local.widget_order : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = 4 + floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = local.widget_titles[key]
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = 60
          metrics = local.widget[key]
        }
      }],
    )
  })
}

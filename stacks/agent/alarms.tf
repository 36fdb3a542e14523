# Alarms on the agent itself, to an encrypted SNS topic: failed jobs (from its logs), a queue that stays
# deep or a database that does not answer (from the metrics container), and webhooks answered with 5XX
# by the agent or by the load balancer.

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  display_name      = "${local.name} alarms"
  kms_master_key_id = aws_kms_key.agent.arn
}

data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchPublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_email_addresses)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# The agent logs zerolog JSON lines; a job that gives up logs at level error with one of these messages
# (agent/internal/pipeline): "plan failed" (also "plan failed: invalid .gitops.yaml"), "promotion
# failed", "command could not be answered".
resource "aws_cloudwatch_log_metric_filter" "failed_jobs" {
  name           = "${local.name}-failed-jobs"
  log_group_name = aws_cloudwatch_log_group.agent.name
  pattern        = "{ ($.level = \"error\") && (($.message = \"plan failed*\") || ($.message = \"promotion failed\") || ($.message = \"command could not be answered\")) }"

  metric_transformation {
    name          = "FailedJobs"
    namespace     = var.metrics_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]

  # Both webhook 5XX sources: the agent's answers, and the load balancer's own (no healthy task).
  webhook_5xx_metrics = {
    "webhook-target-5xx" = {
      metric      = "HTTPCode_Target_5XX_Count"
      description = "The agent answered webhooks with 5XX: GitLab retries, then disables the hook."
    }
    "webhook-elb-5xx" = {
      metric      = "HTTPCode_ELB_5XX_Count"
      description = "The load balancer answered webhooks with 5XX: no healthy agent task, or the tasks unreachable."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "failed_jobs" {
  alarm_name          = "${local.name}-failed-jobs"
  alarm_description   = "A plan, promotion or command of the agent failed for good; see the agent's log group."
  namespace           = var.metrics_namespace
  metric_name         = "FailedJobs"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  depends_on = [aws_cloudwatch_log_metric_filter.failed_jobs]
}

# Missing data breaches: no task is reporting the queue at all (both metrics containers stopped, or
# no task running).
resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  alarm_name          = "${local.name}-queue-depth"
  alarm_description   = "The agent's queue stayed above ${var.queue_depth_threshold} jobs for 15 minutes, or no task reports it."
  namespace           = var.metrics_namespace
  metric_name         = "gitops_queue_depth"
  dimensions          = { Service = local.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.queue_depth_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# gitops_queue_depth is -1 while the database does not answer.
resource "aws_cloudwatch_metric_alarm" "database_unreachable" {
  alarm_name          = "${local.name}-database-unreachable"
  alarm_description   = "An agent task could not read its queue from the database for 5 minutes."
  namespace           = var.metrics_namespace
  metric_name         = "gitops_queue_depth"
  dimensions          = { Service = local.name }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 0
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "webhook_5xx" {
  for_each = local.webhook_5xx_metrics

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value.metric
  dimensions          = { LoadBalancer = aws_lb.agent.arn_suffix }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.webhook_5xx_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "no_healthy_task" {
  alarm_name          = "${local.name}-no-healthy-task"
  alarm_description   = "No agent task passes the load balancer's health check: webhooks are not received."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { LoadBalancer = aws_lb.agent.arn_suffix, TargetGroup = aws_lb_target_group.webhook.arn_suffix }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

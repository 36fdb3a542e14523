output "canary_alarm_names" {
  description = "Alarms a canary release must watch: errors, throttles and latency of the function on its alias and per executed version, and the API's 5XX and latency."
  value       = local.canary_alarm_names
}

output "alarm_names" {
  description = "Every alarm of the stage."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.metric : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.version : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.cache : a.alarm_name],
  )
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  description = "Name of the stage's CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.platform.dashboard_name
}

output "dashboard_url" {
  description = "Console URL of the stage's CloudWatch dashboard."
  value       = "https://console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.platform.dashboard_name}"
}

output "webhook_url" {
  description = "URL to set as the GitLab webhook of every project the agent serves."
  value       = "https://${var.domain_name}/webhooks/gitlab"
}

output "ecr_repository_url" {
  description = "Repository to push the agent image to; image_tag names the tag the service runs."
  value       = aws_ecr_repository.agent.repository_url
}

output "cluster_name" {
  description = "ECS cluster of the agent."
  value       = aws_ecs_cluster.agent.name
}

output "service_name" {
  description = "ECS service of the agent."
  value       = aws_ecs_service.agent.name
}

output "secret_arns" {
  description = "The agent's secrets by environment variable, created empty: the operator puts their values."
  value       = { for env, s in aws_secretsmanager_secret.agent : env => s.arn }
}

output "database_endpoint" {
  description = "Writer endpoint of the agent's database (the host of DATABASE_URL)."
  value       = aws_rds_cluster.this.endpoint
}

output "database_master_secret_arn" {
  description = "RDS-managed secret of the database's master user, for creating the agent's own role through the Data API."
  value       = aws_rds_cluster.this.master_user_secret[0].secret_arn
}

output "database_cluster_arn" {
  description = "ARN of the agent's database cluster (the Data API's --resource-arn)."
  value       = aws_rds_cluster.this.arn
}

output "alarm_topic_arn" {
  description = "SNS topic the agent's alarms notify."
  value       = aws_sns_topic.alarms.arn
}

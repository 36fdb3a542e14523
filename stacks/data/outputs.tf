output "data_kms_key_arn" {
  description = "ARN of the customer managed key of the database, its secret, its logs and the cache."
  value       = aws_kms_key.data.arn
}

output "objects_kms_key_arn" {
  description = "ARN of the customer managed key of the objects bucket."
  value       = aws_kms_key.objects.arn
}

output "lambda_security_group_id" {
  description = "Security group the API function runs in."
  value       = aws_security_group.lambda.id
}

output "db_cluster_identifier" {
  description = "Aurora cluster identifier."
  value       = aws_rds_cluster.this.cluster_identifier
}

output "db_name" {
  description = "Application database name."
  value       = aws_rds_cluster.this.database_name
}

output "db_user" {
  description = "Database user the application signs in as, through the proxy with an IAM token."
  value       = aws_rds_cluster.this.master_username
}

output "db_master_secret_arn" {
  description = "ARN of the master user secret RDS manages in Secrets Manager (read only by the proxy)."
  value       = aws_rds_cluster.this.master_user_secret[0].secret_arn
}

output "db_proxy_name" {
  description = "Name of the RDS Proxy."
  value       = aws_db_proxy.this.name
}

output "db_proxy_endpoint" {
  description = "Host name clients connect to (TLS and IAM authentication required)."
  value       = aws_db_proxy.this.endpoint
}

output "cache_replication_group_id" {
  description = "Id of the Valkey replication group."
  value       = aws_elasticache_replication_group.this.id
}

output "cache_primary_endpoint" {
  description = "Host name of the cache's primary endpoint (TLS required)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "cache_user" {
  description = "Cache user the application signs in as with an IAM token."
  value       = aws_elasticache_user.app.user_name
}

output "objects_bucket_name" {
  description = "Name of the bucket for large files."
  value       = aws_s3_bucket.objects.bucket
}

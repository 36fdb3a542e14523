# Valkey replication group: TLS required, encrypted at rest with the customer key, clients authenticate
# as an ElastiCache user with IAM (no password exists), failover and Multi-AZ with two or more nodes.

resource "aws_elasticache_subnet_group" "this" {
  name        = local.name
  description = "${local.name} cache subnets"
  subnet_ids  = data.aws_subnets.private.ids
}

# Every user group needs a user named "default"; this one is switched off.
resource "aws_elasticache_user" "default" {
  user_id       = "${local.name}-default"
  user_name     = "default"
  engine        = "valkey"
  access_string = "off -@all"

  authentication_mode {
    type = "no-password-required"
  }
}

# IAM authentication requires the user id and user name to be the same.
resource "aws_elasticache_user" "app" {
  user_id       = "${local.name}-app"
  user_name     = "${local.name}-app"
  engine        = "valkey"
  access_string = "on ~* +@all -@dangerous"

  authentication_mode {
    type = "iam"
  }
}

resource "aws_elasticache_user_group" "this" {
  user_group_id = local.name
  engine        = "valkey"
  user_ids      = [aws_elasticache_user.default.user_id, aws_elasticache_user.app.user_id]
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = local.name
  description          = "${local.name} cache"
  engine               = "valkey"
  engine_version       = var.cache_engine_version
  node_type            = var.cache_node_type
  num_cache_clusters   = var.cache_node_count
  port                 = local.cache_port
  subnet_group_name    = aws_elasticache_subnet_group.this.name
  security_group_ids   = [aws_security_group.cache.id]

  automatic_failover_enabled = var.cache_node_count >= 2
  multi_az_enabled           = var.cache_node_count >= 2

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.data.arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  user_group_ids             = [aws_elasticache_user_group.this.user_group_id]

  snapshot_retention_limit   = var.cache_snapshot_retention_days
  snapshot_window            = "01:00-02:00"
  maintenance_window         = "sun:04:30-sun:05:30"
  auto_minor_version_upgrade = "true"

  lifecycle {
    precondition {
      condition     = var.stage != "prod" || var.cache_node_count >= 2
      error_message = "prod needs cache_node_count >= 2 for automatic failover and Multi-AZ."
    }
  }
}

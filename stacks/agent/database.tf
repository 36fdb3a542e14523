# The agent's own Aurora PostgreSQL Serverless v2 cluster: its durable queue and its ledger. Not the
# platform's database: the agent deploys that one and may have to roll it back, so it must not depend
# on it; and the agent's history gets its own backups and restores.
#
# The master password is managed by RDS (a Secrets Manager secret encrypted with the secrets key,
# rotated by RDS): it never appears in Terraform's state. The agent does not use it: it connects as a
# role of its own whose URL the operator puts in the DATABASE_URL secret once (README), so RDS rotating
# the master password never breaks the running tasks. The Data API lets the operator create that role
# without any network path into the VPC.

resource "aws_db_subnet_group" "this" {
  name        = local.name
  description = "${local.name} database subnets"
  subnet_ids  = aws_subnet.private[*].id
}

resource "aws_rds_cluster_parameter_group" "this" {
  name        = "${local.name}-aurora-postgresql${split(".", var.db_engine_version)[0]}"
  family      = "aurora-postgresql${split(".", var.db_engine_version)[0]}"
  description = "${local.name}: TLS only, connection logging"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# RDS creates this log group on first export; creating it first gives it retention and encryption.
resource "aws_cloudwatch_log_group" "postgresql" {
  name              = "/aws/rds/cluster/${local.name}/postgresql"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.agent.arn
}

resource "aws_rds_cluster" "this" {
  cluster_identifier              = local.name
  engine                          = "aurora-postgresql"
  engine_mode                     = "provisioned"
  engine_version                  = var.db_engine_version
  database_name                   = "gitops"
  master_username                 = "gitops_admin"
  manage_master_user_password     = true
  master_user_secret_kms_key_id   = aws_kms_key.secrets.arn
  db_subnet_group_name            = aws_db_subnet_group.this.name
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.this.name
  vpc_security_group_ids          = [aws_security_group.database.id]
  port                            = local.postgres_port
  enable_http_endpoint            = true

  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.agent.arn
  iam_database_authentication_enabled = true

  backup_retention_period      = var.db_backup_retention_days
  preferred_backup_window      = "02:00-03:00"
  preferred_maintenance_window = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot        = true
  deletion_protection          = true
  skip_final_snapshot          = false
  final_snapshot_identifier    = "${local.name}-final"
  delete_automated_backups     = false

  enabled_cloudwatch_logs_exports = ["postgresql"]

  serverlessv2_scaling_configuration {
    min_capacity = var.db_min_capacity
    max_capacity = var.db_max_capacity
  }

  depends_on = [aws_cloudwatch_log_group.postgresql]

  lifecycle {
    precondition {
      condition     = var.db_max_capacity >= var.db_min_capacity
      error_message = "db_max_capacity must not be below db_min_capacity."
    }
  }
}

resource "aws_rds_cluster_instance" "this" {
  count = var.db_instance_count

  identifier                   = "${local.name}-${count.index + 1}"
  cluster_identifier           = aws_rds_cluster.this.id
  engine                       = aws_rds_cluster.this.engine
  engine_version               = aws_rds_cluster.this.engine_version
  instance_class               = "db.serverless"
  db_subnet_group_name         = aws_db_subnet_group.this.name
  publicly_accessible          = false
  auto_minor_version_upgrade   = true
  copy_tags_to_snapshot        = true
  preferred_maintenance_window = "sun:03:30-sun:04:30"

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.agent.arn
  performance_insights_retention_period = 7
}

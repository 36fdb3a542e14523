# What the alarms watch, found by the names the other stacks give it.

locals {
  function_name = "${local.name}-api"
  alias_name    = "live"
  api_name      = "${local.name}-api"
}

data "aws_rds_cluster" "this" {
  cluster_identifier = local.name
}

data "aws_db_proxy" "this" {
  name = local.name
}

data "aws_elasticache_replication_group" "this" {
  replication_group_id = local.name
}

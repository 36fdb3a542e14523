# The network and data stacks' resources, found by the names and tags they give them.

data "aws_vpc" "this" {
  tags = {
    Project = var.project
    Stage   = var.stage
    Stack   = "network"
  }
}

data "aws_subnets" "private" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.this.id]
  }

  tags = {
    Tier = "private"
  }
}

data "aws_security_group" "lambda" {
  vpc_id = data.aws_vpc.this.id
  name   = "${local.name}-lambda"
}

data "aws_db_proxy" "this" {
  name = local.name
}

data "aws_rds_cluster" "this" {
  cluster_identifier = local.name
}

data "aws_elasticache_replication_group" "this" {
  replication_group_id = local.name
}

data "aws_s3_bucket" "objects" {
  bucket = "${local.name}-objects-${local.account_id}"
}

data "aws_kms_alias" "objects" {
  name = "alias/${local.name}-objects"
}

locals {
  # arn:<partition>:rds:<region>:<account>:db-proxy:<resource id>
  proxy_resource_id = element(split(":", data.aws_db_proxy.this.arn), 6)
  db_user           = data.aws_rds_cluster.this.master_username
  cache_user        = "${local.name}-app"
}

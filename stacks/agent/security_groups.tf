# Who may talk to whom, and nothing from the whole internet:
#   GitLab's webhook ranges -> load balancer 443 (and the WAF lets them reach /webhooks/gitlab only),
#   load balancer -> tasks 8080 (webhook listener), admin_source_cidrs -> tasks 9090 (admin listener,
#   never behind the load balancer), tasks -> database 5432, tasks -> anywhere 443 (GitLab, registries,
#   the AWS APIs).

locals {
  # The admin listener serves /metrics and /api/v1: reachable from inside the VPC unless narrowed.
  admin_source_cidrs = length(var.admin_source_cidrs) > 0 ? var.admin_source_cidrs : [var.vpc_cidr]
}

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "Load balancer: HTTPS from GitLab's webhook ranges, to the tasks' webhook port"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${local.name}-alb"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "tasks" {
  name        = "${local.name}-tasks"
  description = "Agent tasks: webhooks from the load balancer, admin from admin_source_cidrs"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${local.name}-tasks"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "database" {
  name        = "${local.name}-database"
  description = "Agent database: PostgreSQL from the agent tasks only"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${local.name}-database"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.webhook_source_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from GitLab's webhook range ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Webhook listener of the agent tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.webhook_port
  to_port                      = local.webhook_port
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_webhook" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Webhook listener, from the load balancer only"
  ip_protocol                  = "tcp"
  from_port                    = local.webhook_port
  to_port                      = local.webhook_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_admin" {
  for_each = toset(local.admin_source_cidrs)

  security_group_id = aws_security_group.tasks.id
  description       = "Admin listener (/metrics, /api/v1) from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = local.admin_port
  to_port           = local.admin_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_database" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "PostgreSQL to the agent database"
  ip_protocol                  = "tcp"
  from_port                    = local.postgres_port
  to_port                      = local.postgres_port
  referenced_security_group_id = aws_security_group.database.id
}

# GitLab, the provider and module registries, the AWS APIs of every stage: HTTPS anywhere, through NAT.
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to GitLab, registries and AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "database_from_tasks" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the agent tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.postgres_port
  to_port                      = local.postgres_port
  referenced_security_group_id = aws_security_group.tasks.id
}

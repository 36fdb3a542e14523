# Who may talk to whom, and nothing from the internet:
#   Lambda -> proxy 5432, proxy -> Aurora 5432, Lambda -> cache 6379, Lambda -> endpoints 443 (and S3 via
#   the gateway endpoint's prefix list).

resource "aws_security_group" "lambda" {
  name        = "${local.name}-lambda"
  description = "API function: outbound to the proxy, the cache and AWS endpoints only"
  vpc_id      = data.aws_vpc.this.id

  tags = {
    Name = "${local.name}-lambda"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "proxy" {
  name        = "${local.name}-db-proxy"
  description = "RDS Proxy: PostgreSQL from the API function, to Aurora"
  vpc_id      = data.aws_vpc.this.id

  tags = {
    Name = "${local.name}-db-proxy"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "aurora" {
  name        = "${local.name}-aurora"
  description = "Aurora PostgreSQL: from RDS Proxy only"
  vpc_id      = data.aws_vpc.this.id

  tags = {
    Name = "${local.name}-aurora"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "cache" {
  name        = "${local.name}-cache"
  description = "Valkey cache: from the API function only"
  vpc_id      = data.aws_vpc.this.id

  tags = {
    Name = "${local.name}-cache"
  }

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  postgres_port = 5432
  cache_port    = 6379
}

resource "aws_vpc_security_group_egress_rule" "lambda_to_proxy" {
  security_group_id            = aws_security_group.lambda.id
  description                  = "PostgreSQL to RDS Proxy"
  ip_protocol                  = "tcp"
  from_port                    = local.postgres_port
  to_port                      = local.postgres_port
  referenced_security_group_id = aws_security_group.proxy.id
}

resource "aws_vpc_security_group_ingress_rule" "proxy_from_lambda" {
  security_group_id            = aws_security_group.proxy.id
  description                  = "PostgreSQL from the API function"
  ip_protocol                  = "tcp"
  from_port                    = local.postgres_port
  to_port                      = local.postgres_port
  referenced_security_group_id = aws_security_group.lambda.id
}

resource "aws_vpc_security_group_egress_rule" "proxy_to_aurora" {
  security_group_id            = aws_security_group.proxy.id
  description                  = "PostgreSQL to Aurora"
  ip_protocol                  = "tcp"
  from_port                    = local.postgres_port
  to_port                      = local.postgres_port
  referenced_security_group_id = aws_security_group.aurora.id
}

resource "aws_vpc_security_group_ingress_rule" "aurora_from_proxy" {
  security_group_id            = aws_security_group.aurora.id
  description                  = "PostgreSQL from RDS Proxy"
  ip_protocol                  = "tcp"
  from_port                    = local.postgres_port
  to_port                      = local.postgres_port
  referenced_security_group_id = aws_security_group.proxy.id
}

resource "aws_vpc_security_group_egress_rule" "lambda_to_cache" {
  security_group_id            = aws_security_group.lambda.id
  description                  = "Valkey to the cache"
  ip_protocol                  = "tcp"
  from_port                    = local.cache_port
  to_port                      = local.cache_port
  referenced_security_group_id = aws_security_group.cache.id
}

resource "aws_vpc_security_group_ingress_rule" "cache_from_lambda" {
  security_group_id            = aws_security_group.cache.id
  description                  = "Valkey from the API function"
  ip_protocol                  = "tcp"
  from_port                    = local.cache_port
  to_port                      = local.cache_port
  referenced_security_group_id = aws_security_group.lambda.id
}

resource "aws_vpc_security_group_egress_rule" "lambda_to_endpoints" {
  security_group_id            = aws_security_group.lambda.id
  description                  = "HTTPS to the interface VPC endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = data.aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_lambda" {
  security_group_id            = data.aws_security_group.endpoints.id
  description                  = "HTTPS from the API function"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.lambda.id
}

resource "aws_vpc_security_group_egress_rule" "lambda_to_s3" {
  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS to S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_vpc_endpoint.s3.prefix_list_id
}

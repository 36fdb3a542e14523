# The network stack's resources, found by the names and tags it gives them.

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

data "aws_security_group" "endpoints" {
  vpc_id = data.aws_vpc.this.id
  name   = "${local.name}-endpoints"
}

data "aws_vpc_endpoint" "s3" {
  vpc_id       = data.aws_vpc.this.id
  service_name = "com.amazonaws.${local.region}.s3"
}

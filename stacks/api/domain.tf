# Custom domain: an ACM certificate validated through DNS, TLS 1.2 or newer, and alias records.

resource "aws_route53_zone" "this" {
  count = var.hosted_zone_id == "" ? 1 : 0

  name    = var.hosted_zone_name
  comment = "${local.name} API"
}

locals {
  zone_id = var.hosted_zone_id == "" ? aws_route53_zone.this[0].zone_id : var.hosted_zone_id
}

resource "aws_acm_certificate" "api" {
  domain_name       = var.domain_name
  validation_method = "DNS"
  key_algorithm     = "EC_prime256v1"

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.domain_name == var.hosted_zone_name || endswith(var.domain_name, ".${var.hosted_zone_name}")
      error_message = "domain_name must be inside hosted_zone_name."
    }
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = {
    for o in aws_acm_certificate.api.domain_validation_options : o.domain_name => {
      name   = o.resource_record_name
      type   = o.resource_record_type
      record = o.resource_record_value
    }
  }

  zone_id         = local.zone_id
  name            = each.value.name
  type            = each.value.type
  records         = [each.value.record]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "api" {
  certificate_arn         = aws_acm_certificate.api.arn
  validation_record_fqdns = [for r in aws_route53_record.certificate_validation : r.fqdn]
}

resource "aws_api_gateway_domain_name" "api" {
  domain_name              = var.domain_name
  regional_certificate_arn = aws_acm_certificate_validation.api.certificate_arn
  security_policy          = "TLS_1_2"

  # Dual-stack, so the AAAA alias record below resolves.
  endpoint_configuration {
    types           = ["REGIONAL"]
    ip_address_type = "dualstack"
  }
}

resource "aws_api_gateway_base_path_mapping" "api" {
  api_id      = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  domain_name = aws_api_gateway_domain_name.api.domain_name
}

resource "aws_route53_record" "api" {
  for_each = toset(["A", "AAAA"])

  zone_id = local.zone_id
  name    = aws_api_gateway_domain_name.api.domain_name
  type    = each.value

  alias {
    name                   = aws_api_gateway_domain_name.api.regional_domain_name
    zone_id                = aws_api_gateway_domain_name.api.regional_zone_id
    evaluate_target_health = false
  }
}

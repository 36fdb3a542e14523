# WAF on the load balancer: only GitLab's webhook ranges may POST to /webhooks/gitlab; every other
# request is blocked. Blocked requests are logged, with the webhook secret header redacted.

resource "aws_wafv2_ip_set" "gitlab_webhooks" {
  name               = "${local.name}-gitlab-webhooks"
  description        = "GitLab webhook source ranges"
  scope              = "REGIONAL"
  ip_address_version = "IPV4"
  addresses          = var.webhook_source_cidrs
}

resource "aws_wafv2_web_acl" "agent" {
  name        = local.name
  description = "${local.name} webhooks: GitLab's ranges to /webhooks/gitlab only"
  scope       = "REGIONAL"

  default_action {
    block {}
  }

  rule {
    name     = "allow-gitlab-webhooks"
    priority = 0

    action {
      allow {}
    }

    statement {
      and_statement {
        statement {
          ip_set_reference_statement {
            arn = aws_wafv2_ip_set.gitlab_webhooks.arn
          }
        }

        statement {
          byte_match_statement {
            search_string         = "/webhooks/gitlab"
            positional_constraint = "EXACTLY"

            field_to_match {
              uri_path {}
            }

            text_transformation {
              priority = 0
              type     = "NONE"
            }
          }
        }

        statement {
          byte_match_statement {
            search_string         = "POST"
            positional_constraint = "EXACTLY"

            field_to_match {
              method {}
            }

            text_transformation {
              priority = 0
              type     = "NONE"
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      sampled_requests_enabled   = true
      metric_name                = "${local.name}-allow-gitlab-webhooks"
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    sampled_requests_enabled   = true
    metric_name                = local.name
  }
}

resource "aws_wafv2_web_acl_association" "alb" {
  resource_arn = aws_lb.agent.arn
  web_acl_arn  = aws_wafv2_web_acl.agent.arn
}

resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.agent.arn
}

resource "aws_wafv2_web_acl_logging_configuration" "agent" {
  resource_arn            = aws_wafv2_web_acl.agent.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  redacted_fields {
    single_header {
      name = "x-gitlab-token"
    }
  }

  logging_filter {
    default_behavior = "DROP"

    filter {
      behavior    = "KEEP"
      requirement = "MEETS_ANY"

      condition {
        action_condition {
          action = "BLOCK"
        }
      }
    }
  }
}

stage               = "prod"
region              = "eu-west-1"
allowed_account_ids = ["123456789012"]

domain_name      = "gitops.example.com"
hosted_zone_name = "example.com"
image_tag        = "v1.0.0"

gitops_projects       = ["gitops-agent/gitops-agent"]
alarm_email_addresses = ["platform-oncall@example.com"]
log_retention_days    = 365

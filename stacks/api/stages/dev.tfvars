stage               = "dev"
region              = "eu-west-1"
allowed_account_ids = ["123456789012"]

domain_name      = "api.dev.example.com"
hosted_zone_name = "dev.example.com"

lambda_reserved_concurrency = 10
log_retention_days          = 14
throttle_rate_limit         = 50
throttle_burst_limit        = 100

usage_plans = {
  basic = {
    rate_limit   = 10
    burst_limit  = 20
    quota_limit  = 10000
    quota_period = "DAY"
  }
  pro = {
    rate_limit   = 100
    burst_limit  = 200
    quota_limit  = 1000000
    quota_period = "MONTH"
  }
}

api_keys = {
  canary-probe = "basic"
}

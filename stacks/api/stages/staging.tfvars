stage               = "staging"
region              = "eu-west-1"
allowed_account_ids = ["123456789012"]

domain_name      = "api.staging.example.com"
hosted_zone_name = "staging.example.com"

lambda_reserved_concurrency = 50
log_retention_days          = 30
throttle_rate_limit         = 200
throttle_burst_limit        = 400

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

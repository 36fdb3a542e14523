stage               = "prod"
region              = "eu-west-1"
allowed_account_ids = ["123456789012"]

alarm_email_addresses  = ["platform-oncall@example.com"]
lambda_error_threshold = 2
api_5xx_threshold      = 2

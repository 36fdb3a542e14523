stage               = "staging"
region              = "eu-west-1"
allowed_account_ids = ["123456789012"]

alarm_email_addresses = ["platform-oncall@example.com"]

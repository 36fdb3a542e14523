stage               = "prod"
region              = "eu-west-1"
allowed_account_ids = ["123456789012"]

vpc_cidr                = "10.30.0.0/16"
az_count                = 3
enable_nat_gateway      = false
flow_log_retention_days = 365

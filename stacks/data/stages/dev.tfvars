stage               = "dev"
region              = "eu-west-1"
allowed_account_ids = ["123456789012"]

db_engine_version        = "16.6"
db_min_capacity          = 0
db_max_capacity          = 2
db_instance_count        = 1
db_backup_retention_days = 7
cache_node_type          = "cache.t4g.micro"
cache_node_count         = 1
log_retention_days       = 14

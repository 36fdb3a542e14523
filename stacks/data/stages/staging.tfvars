stage               = "staging"
region              = "eu-west-1"
allowed_account_ids = ["123456789012"]

db_engine_version        = "16.6"
db_min_capacity          = 0.5
db_max_capacity          = 4
db_instance_count        = 2
db_backup_retention_days = 7
deletion_protection      = true
cache_node_type          = "cache.t4g.small"
cache_node_count         = 2
log_retention_days       = 30

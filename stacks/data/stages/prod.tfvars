stage               = "prod"
region              = "eu-west-1"
allowed_account_ids = ["123456789012"]

db_engine_version                      = "16.6"
db_min_capacity                        = 1
db_max_capacity                        = 16
db_instance_count                      = 2
db_backup_retention_days               = 14
db_performance_insights_retention_days = 31
cache_node_type                        = "cache.r7g.large"
cache_node_count                       = 3
cache_snapshot_retention_days          = 7
log_retention_days                     = 365

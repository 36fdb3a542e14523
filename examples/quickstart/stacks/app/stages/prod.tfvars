stage     = "prod"
memory_mb = 1024

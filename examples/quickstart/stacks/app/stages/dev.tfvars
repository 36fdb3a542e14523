stage     = "dev"
memory_mb = 256

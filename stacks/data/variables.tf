variable "project" {
  type        = string
  description = "Short project name; prefixes every resource name and is the Project tag."
  default     = "gitops-agent"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.project))
    error_message = "project must be 3-24 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "stage" {
  type        = string
  description = "Deployment stage: dev, staging or prod. Prod turns on the strictest settings."

  validation {
    condition     = contains(["dev", "staging", "prod"], var.stage)
    error_message = "stage must be one of dev, staging, prod."
  }
}

variable "region" {
  type        = string
  description = "AWS region the stack is deployed to, e.g. eu-west-1."

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-1."
  }
}

variable "allowed_account_ids" {
  type        = list(string)
  description = "AWS account ids this stage may be applied to; the provider refuses any other account."

  validation {
    condition     = length(var.allowed_account_ids) > 0 && alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "allowed_account_ids must hold at least one 12-digit account id."
  }
}

variable "extra_tags" {
  type        = map(string)
  description = "Additional tags for every resource. The required tags Project, Stage, Stack and ManagedBy cannot be overridden."
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.extra_tags), ["Project", "Stage", "Stack", "ManagedBy"])) == 0
    error_message = "extra_tags must not set Project, Stage, Stack or ManagedBy."
  }
}

variable "db_engine_version" {
  type        = string
  description = "Aurora PostgreSQL engine version (major.minor), e.g. 16.6."

  validation {
    condition     = can(regex("^1[4-9]\\.[0-9]+$", var.db_engine_version))
    error_message = "db_engine_version must be an Aurora PostgreSQL version 14 or newer, like 16.6."
  }
}

variable "db_name" {
  type        = string
  description = "Name of the application database created in the cluster."
  default     = "documents"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must start with a letter and hold only lowercase letters, digits and underscores (max 63)."
  }
}

variable "db_master_username" {
  type        = string
  description = "Master user name; its password is generated and kept in Secrets Manager by RDS. The application connects as this user through the proxy with IAM authentication."
  default     = "app_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.db_master_username)) && !contains(["postgres", "admin", "rdsadmin"], var.db_master_username)
    error_message = "db_master_username must be 1-16 lowercase letters, digits or underscores, start with a letter, and not be a reserved name."
  }
}

variable "db_min_capacity" {
  type        = number
  description = "Minimum Aurora Serverless v2 capacity in ACUs (0 lets the cluster pause when idle)."

  validation {
    condition     = var.db_min_capacity >= 0 && var.db_min_capacity <= 256
    error_message = "db_min_capacity must be between 0 and 256 ACUs."
  }
}

variable "db_max_capacity" {
  type        = number
  description = "Maximum Aurora Serverless v2 capacity in ACUs."

  validation {
    condition     = var.db_max_capacity >= 1 && var.db_max_capacity <= 256
    error_message = "db_max_capacity must be between 1 and 256 ACUs."
  }
}

variable "db_instance_count" {
  type        = number
  description = "Number of Aurora instances (a writer and readers); 2 or more in prod so a reader can take over."

  validation {
    condition     = var.db_instance_count >= 1 && var.db_instance_count <= 15 && floor(var.db_instance_count) == var.db_instance_count
    error_message = "db_instance_count must be a whole number from 1 to 15."
  }
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated Aurora backups (point-in-time recovery window)."
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 7 and 35."
  }
}

variable "db_performance_insights_retention_days" {
  type        = number
  description = "Days Performance Insights data is kept: 7 (free tier) or a multiple of 31 up to 731."
  default     = 7

  validation {
    condition     = var.db_performance_insights_retention_days == 7 || var.db_performance_insights_retention_days == 731 || (var.db_performance_insights_retention_days % 31 == 0 && var.db_performance_insights_retention_days <= 713)
    error_message = "db_performance_insights_retention_days must be 7, a multiple of 31 up to 713, or 731."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the database from deletion outside prod too. Prod is always protected and keeps a final snapshot."
  default     = false
}

variable "cache_engine_version" {
  type        = string
  description = "Valkey engine version of the cache, e.g. 8.0."
  default     = "8.0"

  validation {
    condition     = can(regex("^[7-9]\\.[0-9]+$", var.cache_engine_version))
    error_message = "cache_engine_version must be a Valkey version 7.2 or newer, like 8.0."
  }
}

variable "cache_node_type" {
  type        = string
  description = "ElastiCache node type, e.g. cache.t4g.small."

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.cache_node_type))
    error_message = "cache_node_type must be an ElastiCache node type like cache.t4g.small."
  }
}

variable "cache_node_count" {
  type        = number
  description = "Number of cache nodes (primary and replicas). 2 or more enables automatic failover and Multi-AZ; prod requires it."

  validation {
    condition     = var.cache_node_count >= 1 && var.cache_node_count <= 6 && floor(var.cache_node_count) == var.cache_node_count
    error_message = "cache_node_count must be a whole number from 1 to 6."
  }
}

variable "cache_snapshot_retention_days" {
  type        = number
  description = "Days of daily cache snapshots to keep (0 disables them)."
  default     = 1

  validation {
    condition     = var.cache_snapshot_retention_days >= 0 && var.cache_snapshot_retention_days <= 35
    error_message = "cache_snapshot_retention_days must be between 0 and 35."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep the database logs exported to CloudWatch."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs supports (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

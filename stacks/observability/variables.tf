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

variable "alarm_email_addresses" {
  type        = list(string)
  description = "Email addresses subscribed to the alarm topic (each must confirm its subscription)."
  default     = []

  validation {
    condition     = alltrue([for a in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", a))])
    error_message = "alarm_email_addresses must hold email addresses."
  }
}

variable "lambda_error_threshold" {
  type        = number
  description = "Function errors per minute (on the alias, or on the worst executed version) that raise an alarm."
  default     = 5

  validation {
    condition     = var.lambda_error_threshold >= 0
    error_message = "lambda_error_threshold must not be negative."
  }
}

variable "lambda_duration_p99_ms" {
  type        = number
  description = "p99 function duration in milliseconds on the alias that raises an alarm; the worst executed version alarms on its maximum above twice this."
  default     = 3000

  validation {
    condition     = var.lambda_duration_p99_ms > 0 && var.lambda_duration_p99_ms <= 900000
    error_message = "lambda_duration_p99_ms must be between 1 and 900000."
  }
}

variable "api_5xx_threshold" {
  type        = number
  description = "API 5XX responses per minute that raise an alarm."
  default     = 5

  validation {
    condition     = var.api_5xx_threshold >= 0
    error_message = "api_5xx_threshold must not be negative."
  }
}

variable "api_latency_p99_ms" {
  type        = number
  description = "p99 API latency in milliseconds that raises an alarm."
  default     = 5000

  validation {
    condition     = var.api_latency_p99_ms > 0 && var.api_latency_p99_ms <= 29000
    error_message = "api_latency_p99_ms must be between 1 and 29000."
  }
}

variable "db_cpu_percent" {
  type        = number
  description = "Aurora CPU utilisation (percent) that raises an alarm."
  default     = 80

  validation {
    condition     = var.db_cpu_percent > 0 && var.db_cpu_percent <= 100
    error_message = "db_cpu_percent must be between 1 and 100."
  }
}

variable "db_max_connections" {
  type        = number
  description = "Aurora connections that raise an alarm."
  default     = 500

  validation {
    condition     = var.db_max_connections > 0
    error_message = "db_max_connections must be positive."
  }
}

variable "proxy_pinned_sessions" {
  type        = number
  description = "Proxy connections pinned to a session that raise an alarm (pinning defeats connection pooling)."
  default     = 10

  validation {
    condition     = var.proxy_pinned_sessions >= 0
    error_message = "proxy_pinned_sessions must not be negative."
  }
}

variable "cache_cpu_percent" {
  type        = number
  description = "Cache engine CPU utilisation (percent) that raises an alarm."
  default     = 75

  validation {
    condition     = var.cache_cpu_percent > 0 && var.cache_cpu_percent <= 100
    error_message = "cache_cpu_percent must be between 1 and 100."
  }
}

variable "cache_memory_percent" {
  type        = number
  description = "Cache memory usage (percent of max memory) that raises an alarm."
  default     = 80

  validation {
    condition     = var.cache_memory_percent > 0 && var.cache_memory_percent <= 100
    error_message = "cache_memory_percent must be between 1 and 100."
  }
}

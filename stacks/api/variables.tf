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

variable "domain_name" {
  type        = string
  description = "Custom domain the API is served on, e.g. api.dev.example.com."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name like api.example.com."
  }
}

variable "hosted_zone_name" {
  type        = string
  description = "Route53 hosted zone holding domain_name, e.g. dev.example.com. Created by this stack unless hosted_zone_id names an existing one."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.hosted_zone_name))
    error_message = "hosted_zone_name must be a lowercase DNS name like example.com."
  }
}

variable "hosted_zone_id" {
  type        = string
  description = "Id of an existing Route53 hosted zone for hosted_zone_name; empty creates the zone."
  default     = ""

  validation {
    condition     = var.hosted_zone_id == "" || can(regex("^Z[A-Z0-9]{1,31}$", var.hosted_zone_id))
    error_message = "hosted_zone_id must be empty or a Route53 zone id like Z0123456789ABCDEFGHIJ."
  }
}

variable "lambda_memory_mb" {
  type        = number
  description = "Memory of the API function in MB."
  default     = 512

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "lambda_memory_mb must be between 128 and 10240."
  }
}

variable "lambda_timeout_seconds" {
  type        = number
  description = "Timeout of the API function in seconds; API Gateway gives up after 29 seconds."
  default     = 15

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 29
    error_message = "lambda_timeout_seconds must be between 1 and 29."
  }
}

variable "lambda_reserved_concurrency" {
  type        = number
  description = "Concurrent executions reserved for (and capping) the API function."

  validation {
    condition     = var.lambda_reserved_concurrency >= 1 && var.lambda_reserved_concurrency <= 1000
    error_message = "lambda_reserved_concurrency must be between 1 and 1000."
  }
}

variable "lambda_log_level" {
  type        = string
  description = "Application log level of the API function."
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.lambda_log_level)
    error_message = "lambda_log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "objects_prefix" {
  type        = string
  description = "Key prefix in the objects bucket the API function may read and write."
  default     = "documents/"

  validation {
    condition     = can(regex("^[a-zA-Z0-9!_.'()-]+(/[a-zA-Z0-9!_.'()-]+)*/$", var.objects_prefix))
    error_message = "objects_prefix must be a relative key prefix ending with a slash, like documents/."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep the function's logs, the API access logs and the WAF logs."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs supports (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "throttle_rate_limit" {
  type        = number
  description = "Steady-state requests per second the stage accepts across all clients."

  validation {
    condition     = var.throttle_rate_limit > 0 && var.throttle_rate_limit <= 10000
    error_message = "throttle_rate_limit must be between 1 and 10000."
  }
}

variable "throttle_burst_limit" {
  type        = number
  description = "Burst of requests the stage accepts across all clients."

  validation {
    condition     = var.throttle_burst_limit > 0 && var.throttle_burst_limit <= 5000 && floor(var.throttle_burst_limit) == var.throttle_burst_limit
    error_message = "throttle_burst_limit must be a whole number between 1 and 5000."
  }
}

variable "usage_plans" {
  type = map(object({
    rate_limit   = number
    burst_limit  = number
    quota_limit  = number
    quota_period = string
  }))
  description = "Usage plan tiers by name: per-key throttling and quota (quota_period DAY, WEEK or MONTH)."

  validation {
    condition     = length(var.usage_plans) > 0 && alltrue([for p in values(var.usage_plans) : contains(["DAY", "WEEK", "MONTH"], p.quota_period) && p.rate_limit > 0 && p.burst_limit > 0 && p.quota_limit > 0])
    error_message = "usage_plans needs at least one tier; each with positive limits and quota_period DAY, WEEK or MONTH."
  }

  validation {
    condition     = alltrue([for name in keys(var.usage_plans) : can(regex("^[a-z][a-z0-9-]{0,31}$", name))])
    error_message = "usage plan names must be lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "api_keys" {
  type        = map(string)
  description = "API keys to issue: key name (the client) to usage plan tier. Key values are generated by AWS and never appear in code."
  default     = {}

  validation {
    condition     = alltrue([for tier in values(var.api_keys) : contains(keys(var.usage_plans), tier)])
    error_message = "every api_keys entry must name a tier in usage_plans."
  }

  validation {
    condition     = alltrue([for name in keys(var.api_keys) : can(regex("^[a-z][a-z0-9-]{0,63}$", name))])
    error_message = "api key names must be lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "waf_rate_limit" {
  type        = number
  description = "Requests one client IP may make in 5 minutes before the WAF blocks it."
  default     = 2000

  validation {
    condition     = var.waf_rate_limit >= 100 && var.waf_rate_limit <= 2000000000
    error_message = "waf_rate_limit must be at least 100."
  }
}

variable "waf_managed_rule_groups" {
  type        = list(string)
  description = "AWS managed WAF rule groups applied in order before the rate limit."
  default     = ["AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"]

  validation {
    condition     = length(var.waf_managed_rule_groups) > 0 && alltrue([for g in var.waf_managed_rule_groups : can(regex("^AWSManagedRules[A-Za-z0-9]+$", g))])
    error_message = "waf_managed_rule_groups must name AWS managed rule groups (AWSManagedRules...)."
  }
}

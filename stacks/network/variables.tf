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

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR block of the VPC; private subnets are carved out of it (/20 each from a /16)."

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of size /20 or larger."
  }
}

variable "az_count" {
  type        = number
  description = "Number of availability zones with a private subnet: at least 2, and 3 in prod."

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number from 2 to 4."
  }
}

variable "enable_nat_gateway" {
  type        = bool
  description = "Create a NAT gateway (with a public subnet and an internet gateway) for outbound internet access. AWS APIs are reached through VPC endpoints, so this stays off unless something needs the internet."
  default     = false
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days to keep VPC flow logs."
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a retention period CloudWatch Logs supports (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "interface_endpoint_services" {
  type        = list(string)
  description = "AWS services reached through interface VPC endpoints (service short names)."
  default     = ["secretsmanager", "kms", "sts", "logs", "monitoring"]

  validation {
    condition     = alltrue([for s in var.interface_endpoint_services : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "interface_endpoint_services must be service short names such as secretsmanager or logs."
  }
}

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
  description = "Deployment stage: dev, staging or prod. The agent runs once per account, applied in prod."

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
  description = "CIDR block of the agent's own VPC, e.g. 10.40.0.0/20; it should not overlap the stages' VPCs."
  default     = "10.40.0.0/20"

  validation {
    condition     = can(cidrsubnet(var.vpc_cidr, 4, 15)) && tonumber(split("/", var.vpc_cidr)[1]) <= 24
    error_message = "vpc_cidr must be an IPv4 CIDR block of /24 or larger."
  }
}

variable "domain_name" {
  type        = string
  description = "DNS name GitLab sends webhooks to, e.g. gitops.example.com; the webhook URL is https://<domain_name>/webhooks/gitlab."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name like gitops.example.com."
  }
}

variable "hosted_zone_name" {
  type        = string
  description = "Existing public Route53 hosted zone holding domain_name, e.g. example.com; looked up by name."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.hosted_zone_name))
    error_message = "hosted_zone_name must be a lowercase DNS name like example.com."
  }
}

variable "ssl_policy" {
  type        = string
  description = "TLS policy of the HTTPS listener: one of the ELB TLS 1.3 policies (TLS13-1-2-Res allows TLS 1.2 with forward-secret AEAD ciphers only, TLS13-1-3 TLS 1.3 only)."
  default     = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"

  validation {
    condition     = contains(["ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"], var.ssl_policy)
    error_message = "ssl_policy must be a restricted ELB TLS 1.3 policy (ELBSecurityPolicy-TLS13-1-2-Res-2021-06, ELBSecurityPolicy-TLS13-1-3-2021-06 or their PQ variants)."
  }
}

variable "webhook_source_cidrs" {
  type        = list(string)
  description = "IPv4 ranges GitLab sends webhooks from; only these reach /webhooks/gitlab. Default: GitLab.com's documented webhook ranges."
  default     = ["34.74.90.64/28", "34.74.226.0/24"]

  validation {
    condition     = length(var.webhook_source_cidrs) > 0 && alltrue([for c in var.webhook_source_cidrs : can(cidrhost(c, 0)) && !startswith(c, "0.0.0.0/")])
    error_message = "webhook_source_cidrs must hold IPv4 CIDR blocks, none of them 0.0.0.0/0."
  }
}

variable "admin_source_cidrs" {
  type        = list(string)
  description = "IPv4 ranges that may reach the admin listener (/metrics, /api/v1) on the tasks; empty means the agent VPC's CIDR only."
  default     = []

  validation {
    condition     = alltrue([for c in var.admin_source_cidrs : can(cidrhost(c, 0)) && !startswith(c, "0.0.0.0/")])
    error_message = "admin_source_cidrs must hold IPv4 CIDR blocks, none of them 0.0.0.0/0."
  }
}

variable "image_tag" {
  type        = string
  description = "Tag of the agent image in this stack's ECR repository to run; tags are immutable, so a new release is a new tag."

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a Docker tag (letters, digits, _ . -), and not latest."
  }
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture of the image and of the Fargate tasks: X86_64 or ARM64."
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "task_cpu" {
  type        = number
  description = "CPU units of one agent task (1024 = one vCPU); terraform runs share it."
  default     = 2048

  validation {
    condition     = contains([1024, 2048, 4096, 8192, 16384], var.task_cpu)
    error_message = "task_cpu must be one of 1024, 2048, 4096, 8192, 16384."
  }
}

variable "task_memory" {
  type        = number
  description = "Memory of one agent task in MiB; must suit task_cpu on Fargate."
  default     = 8192

  validation {
    condition     = var.task_memory >= 2048 && var.task_memory <= 122880 && var.task_memory % 1024 == 0
    error_message = "task_memory must be a multiple of 1024 between 2048 and 122880."
  }
}

variable "ephemeral_storage_gib" {
  type        = number
  description = "Ephemeral storage of one task in GiB: the data dir (work dirs, source and provider caches) and /tmp."
  default     = 50

  validation {
    condition     = var.ephemeral_storage_gib >= 21 && var.ephemeral_storage_gib <= 200 && floor(var.ephemeral_storage_gib) == var.ephemeral_storage_gib
    error_message = "ephemeral_storage_gib must be a whole number between 21 and 200."
  }
}

variable "desired_count" {
  type        = number
  description = "Agent tasks to run; they share the queue in PostgreSQL and spread over the two availability zones."
  default     = 2

  validation {
    condition     = var.desired_count >= 1 && var.desired_count <= 10 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number between 1 and 10."
  }
}

variable "gitlab_url" {
  type        = string
  description = "GitLab base URL the agent talks to (GITLAB_URL), e.g. https://gitlab.com."
  default     = "https://gitlab.com"

  validation {
    condition     = can(regex("^https://[a-z0-9.-]+(:[0-9]+)?$", var.gitlab_url))
    error_message = "gitlab_url must be an https URL without a path or trailing slash."
  }
}

variable "gitops_projects" {
  type        = list(string)
  description = "GitLab projects (group/project) the agent serves and polls (GITOPS_PROJECTS); empty serves every project whose webhook authenticates."
  default     = []

  validation {
    condition     = alltrue([for p in var.gitops_projects : can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$", p))])
    error_message = "gitops_projects must hold project paths like group/project."
  }
}

variable "per_project_webhook_secrets" {
  type        = bool
  description = "Whether to create the per-project webhook secrets file (GITOPS_WEBHOOK_SECRETS_FILE, one group/project=secret a line) beside the shared webhook secret."
  default     = false
}

variable "deploy_stages" {
  type        = list(string)
  description = "Stages whose deploy and plan roles (stacks/cicd) the agent may assume; they make GITOPS_ALLOWED_ROLES."
  default     = ["dev", "staging", "prod"]

  validation {
    condition     = length(var.deploy_stages) > 0 && alltrue([for s in var.deploy_stages : contains(["dev", "staging", "prod"], s)])
    error_message = "deploy_stages must hold stages among dev, staging, prod."
  }
}

variable "external_id_parameter" {
  type        = string
  description = "SSM SecureString parameter holding the external id (the cicd stack's external_id_parameter); the agent gets it as GITOPS_AWS_EXTERNAL_ID."
  default     = "/gitops-agent/agent/external-id"

  validation {
    condition     = can(regex("^/[A-Za-z0-9_./-]+$", var.external_id_parameter))
    error_message = "external_id_parameter must be an SSM parameter path starting with a slash."
  }
}

variable "shutdown_timeout_seconds" {
  type        = number
  description = "GITOPS_SHUTDOWN_TIMEOUT in seconds: how long running jobs may finish on SIGTERM; ECS waits 30 seconds more before SIGKILL (at most 120 in all)."
  default     = 90

  validation {
    condition     = var.shutdown_timeout_seconds >= 10 && var.shutdown_timeout_seconds <= 90 && floor(var.shutdown_timeout_seconds) == var.shutdown_timeout_seconds
    error_message = "shutdown_timeout_seconds must be a whole number between 10 and 90 (Fargate stops a container at most 120 seconds after SIGTERM)."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep the agent's, the WAF's and the database's logs."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs supports (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "db_engine_version" {
  type        = string
  description = "Aurora PostgreSQL engine version of the agent's own database, e.g. 16.6."
  default     = "16.6"

  validation {
    condition     = can(regex("^1[4-9]\\.[0-9]+$", var.db_engine_version))
    error_message = "db_engine_version must be an Aurora PostgreSQL version like 16.6 (14 or newer)."
  }
}

variable "db_min_capacity" {
  type        = number
  description = "Minimum Aurora Serverless v2 capacity (ACUs) of the agent's database."
  default     = 0.5

  validation {
    condition     = var.db_min_capacity >= 0 && var.db_min_capacity <= 256
    error_message = "db_min_capacity must be between 0 and 256 ACUs."
  }
}

variable "db_max_capacity" {
  type        = number
  description = "Maximum Aurora Serverless v2 capacity (ACUs) of the agent's database."
  default     = 4

  validation {
    condition     = var.db_max_capacity >= 1 && var.db_max_capacity <= 256
    error_message = "db_max_capacity must be between 1 and 256 ACUs."
  }
}

variable "db_instance_count" {
  type        = number
  description = "Aurora instances of the agent's database: 2 puts a reader in the other zone to take over from the writer."
  default     = 2

  validation {
    condition     = var.db_instance_count >= 1 && var.db_instance_count <= 3 && floor(var.db_instance_count) == var.db_instance_count
    error_message = "db_instance_count must be 1, 2 or 3."
  }
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated backups (point-in-time restore) of the agent's queue and ledger."
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 7 and 35."
  }
}

variable "queue_depth_threshold" {
  type        = number
  description = "Jobs waiting or running in the agent's queue above which, for 15 minutes, the queue-depth alarm fires."
  default     = 20

  validation {
    condition     = var.queue_depth_threshold >= 1 && var.queue_depth_threshold <= 10000
    error_message = "queue_depth_threshold must be between 1 and 10000."
  }
}

variable "webhook_5xx_threshold" {
  type        = number
  description = "5XX answers to webhooks (from the agent or from the load balancer) in 5 minutes that fire an alarm."
  default     = 3

  validation {
    condition     = var.webhook_5xx_threshold >= 1 && var.webhook_5xx_threshold <= 10000
    error_message = "webhook_5xx_threshold must be between 1 and 10000."
  }
}

variable "metrics_namespace" {
  type        = string
  description = "CloudWatch namespace of the agent's own metrics (failed jobs, queue depth)."
  default     = "GitopsAgent"

  validation {
    condition     = can(regex("^[A-Za-z0-9_./#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be a CloudWatch namespace (letters, digits, . - _ / # :) not starting with AWS/."
  }
}

variable "alarm_email_addresses" {
  type        = list(string)
  description = "Email addresses subscribed to the agent's alarm topic (each confirms by mail)."
  default     = []

  validation {
    condition     = alltrue([for a in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", a))])
    error_message = "alarm_email_addresses must hold email addresses."
  }
}

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

variable "gitlab_url" {
  type        = string
  description = "GitLab instance issuing the CI job tokens (OIDC issuer), e.g. https://gitlab.com."
  default     = "https://gitlab.com"

  validation {
    condition     = can(regex("^https://[a-z0-9.-]+(:[0-9]+)?$", var.gitlab_url))
    error_message = "gitlab_url must be an https URL without a path or trailing slash."
  }
}

variable "gitlab_audience" {
  type        = string
  description = "Audience (aud) the CI jobs request in their id_tokens; empty means gitlab_url."
  default     = ""

  validation {
    condition     = length(var.gitlab_audience) <= 255 && !strcontains(var.gitlab_audience, " ")
    error_message = "gitlab_audience must be at most 255 characters without spaces."
  }
}

variable "gitlab_project_path" {
  type        = string
  description = "Path of this repository on GitLab (group/project); only its protected main branch may assume the CI role."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$", var.gitlab_project_path))
    error_message = "gitlab_project_path must look like group/project (subgroups allowed)."
  }
}

variable "deploy_stages" {
  type        = list(string)
  description = "Stages the agent deploys to in this account; each gets a deploy role the agent assumes with the external id."

  validation {
    condition     = length(var.deploy_stages) > 0 && alltrue([for s in var.deploy_stages : contains(["dev", "staging", "prod"], s)])
    error_message = "deploy_stages must hold stages among dev, staging, prod."
  }
}

variable "cicd_stage" {
  type        = string
  description = "The stage whose deploy role applies this stack, and may therefore manage the CI/CD roles and the OIDC provider."
  default     = "prod"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.cicd_stage)
    error_message = "cicd_stage must be one of dev, staging, prod."
  }
}

variable "state_buckets" {
  type        = map(string)
  description = "Terraform state bucket per deploy stage (the bucket of stages/<stage>.backend.hcl)."

  validation {
    condition     = alltrue([for b in values(var.state_buckets) : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b))])
    error_message = "state_buckets must hold S3 bucket names."
  }
}

variable "agent_trusted_services" {
  type        = list(string)
  description = "AWS services whose workloads in this account may assume the agent role (where the agent runs), e.g. ecs-tasks.amazonaws.com."
  default     = ["ecs-tasks.amazonaws.com"]

  validation {
    condition     = alltrue([for s in var.agent_trusted_services : can(regex("^[a-z0-9.-]+\\.amazonaws\\.com$", s))])
    error_message = "agent_trusted_services must hold service principals like ecs-tasks.amazonaws.com."
  }
}

variable "external_id_parameter" {
  type        = string
  description = "SSM parameter (SecureString, created outside Terraform) holding the external id the agent sends when assuming a deploy role (GITOPS_AWS_EXTERNAL_ID)."
  default     = "/gitops-agent/agent/external-id"

  validation {
    condition     = can(regex("^/[A-Za-z0-9_./-]+$", var.external_id_parameter))
    error_message = "external_id_parameter must be an SSM parameter path starting with a slash."
  }
}


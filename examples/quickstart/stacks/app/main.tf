# The example's application: a function-like record, its alias and a secret it reads.
terraform {
  required_version = ">= 1.6"

  # State location per stage comes from backend_config in .gitops.yaml when set; the default is a local file.
  backend "local" {}
}

variable "stage" {
  type        = string
  description = "Deployment stage (dev or prod)."
}

variable "memory_mb" {
  type        = number
  description = "Memory of the function, in MiB."

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be between 128 and 10240."
  }
}

variable "api_token" {
  type        = string
  description = "Token the function uses to call its upstream; never shown in plans."
  sensitive   = true
  default     = "example-not-a-real-token"
}

resource "terraform_data" "function" {
  input = {
    name      = "documents-api-${var.stage}"
    memory_mb = var.memory_mb
    runtime   = "provided.al2023"
  }
}

resource "terraform_data" "alias" {
  input            = { name = "live", function = terraform_data.function.id }
  triggers_replace = [var.memory_mb]
}

resource "terraform_data" "token" {
  input = sensitive(var.api_token)
}

output "function_name" {
  description = "Name of the function."
  value       = "documents-api-${var.stage}"
}

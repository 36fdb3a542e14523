terraform {
  # The agent applies this stack itself, with the OpenTofu its image ships (1.10): no ephemeral
  # resources or write-only arguments here, which need 1.11 (see the README, "Database").
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 6.66.0"
    }
  }

  # Partial configuration: bucket, key and region come from stages/<stage>.backend.hcl.
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}

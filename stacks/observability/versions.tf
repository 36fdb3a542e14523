terraform {
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

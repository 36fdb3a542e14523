bucket = "gitops-agent-prod-tfstate"
key    = "observability/terraform.tfstate"
region = "eu-west-1"

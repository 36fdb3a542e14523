bucket = "gitops-agent-prod-tfstate"
key    = "agent/terraform.tfstate"
region = "eu-west-1"

bucket = "gitops-agent-prod-tfstate"
key    = "api/terraform.tfstate"
region = "eu-west-1"

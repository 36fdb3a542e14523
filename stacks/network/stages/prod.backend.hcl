bucket = "gitops-agent-prod-tfstate"
key    = "network/terraform.tfstate"
region = "eu-west-1"

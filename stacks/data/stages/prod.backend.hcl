bucket = "gitops-agent-prod-tfstate"
key    = "data/terraform.tfstate"
region = "eu-west-1"

bucket = "gitops-agent-dev-tfstate"
key    = "network/terraform.tfstate"
region = "eu-west-1"

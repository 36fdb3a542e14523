bucket = "gitops-agent-dev-tfstate"
key    = "data/terraform.tfstate"
region = "eu-west-1"

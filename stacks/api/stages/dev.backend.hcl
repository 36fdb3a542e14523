bucket = "gitops-agent-dev-tfstate"
key    = "api/terraform.tfstate"
region = "eu-west-1"

bucket = "gitops-agent-dev-tfstate"
key    = "observability/terraform.tfstate"
region = "eu-west-1"

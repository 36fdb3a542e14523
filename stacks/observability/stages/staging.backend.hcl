bucket = "gitops-agent-staging-tfstate"
key    = "observability/terraform.tfstate"
region = "eu-west-1"

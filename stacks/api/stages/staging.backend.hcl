bucket = "gitops-agent-staging-tfstate"
key    = "api/terraform.tfstate"
region = "eu-west-1"

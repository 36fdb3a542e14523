bucket = "gitops-agent-staging-tfstate"
key    = "data/terraform.tfstate"
region = "eu-west-1"

bucket = "gitops-agent-staging-tfstate"
key    = "network/terraform.tfstate"
region = "eu-west-1"

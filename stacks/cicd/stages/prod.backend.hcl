bucket = "gitops-agent-prod-tfstate"
key    = "cicd/terraform.tfstate"
region = "eu-west-1"

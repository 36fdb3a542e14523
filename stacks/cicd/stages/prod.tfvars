stage               = "prod"
region              = "eu-west-1"
allowed_account_ids = ["123456789012"]

gitlab_url          = "https://gitlab.com"
gitlab_project_path = "gitops-agent/gitops-agent"
deploy_stages       = ["dev", "staging", "prod"]
cicd_stage          = "prod"

state_buckets = {
  dev     = "gitops-agent-dev-tfstate"
  staging = "gitops-agent-staging-tfstate"
  prod    = "gitops-agent-prod-tfstate"
}

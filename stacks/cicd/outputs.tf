output "gitlab_oidc_provider_arn" {
  description = "ARN of the GitLab OIDC identity provider."
  value       = aws_iam_openid_connect_provider.gitlab.arn
}

output "ci_role_arn" {
  description = "Role GitLab CI assumes from the protected main branch (AWS_ROLE_ARN with an id_token)."
  value       = aws_iam_role.ci.arn
}

output "agent_role_arn" {
  description = "Role the agent runs as."
  value       = aws_iam_role.agent.arn
}

output "deploy_role_arns" {
  description = "Deploy role per stage: the role_arn of each stage in .gitops.yaml."
  value       = { for stage, r in aws_iam_role.deploy : stage => r.arn }
}

output "plan_role_arns" {
  description = "Read-only plan role per stage: the plan_role_arn of each stage in .gitops.yaml (merge request plans, drift checks)."
  value       = { for stage, r in aws_iam_role.plan : stage => r.arn }
}

output "artifacts_bucket_name" {
  description = "Bucket CI uploads Lambda builds to (under lambda/)."
  value       = aws_s3_bucket.artifacts.bucket
}

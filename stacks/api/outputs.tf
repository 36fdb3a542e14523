output "api_url" {
  description = "Base URL of the API on its custom domain."
  value       = "https://${aws_api_gateway_domain_name.api.domain_name}/"
}

output "rest_api_id" {
  description = "Id of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "rest_api_name" {
  description = "Name of the REST API (the ApiName metric dimension)."
  value       = aws_api_gateway_rest_api.this.name
}

output "stage_name" {
  description = "Name of the API stage (the Stage metric dimension)."
  value       = aws_api_gateway_stage.this.stage_name
}

output "function_name" {
  description = "Name of the API function the agent releases."
  value       = aws_lambda_function.api.function_name
}

output "function_arn" {
  description = "ARN of the API function (unqualified)."
  value       = aws_lambda_function.api.arn
}

output "alias_name" {
  description = "Alias serving the API; the agent points it at each release."
  value       = aws_lambda_alias.live.name
}

output "alias_arn" {
  description = "ARN of the alias serving the API."
  value       = aws_lambda_alias.live.arn
}

output "hosted_zone_id" {
  description = "Route53 hosted zone holding the API's records."
  value       = local.zone_id
}

output "hosted_zone_name_servers" {
  description = "Name servers to delegate hosted_zone_name to, when this stack created the zone."
  value       = var.hosted_zone_id == "" ? aws_route53_zone.this[0].name_servers : []
}

output "api_key_ids" {
  description = "Ids of the issued API keys by client name (values are read from API Gateway, never from state outputs)."
  value       = { for name, k in aws_api_gateway_api_key.client : name => k.id }
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL protecting the stage."
  value       = aws_wafv2_web_acl.api.arn
}

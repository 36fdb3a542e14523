output "vpc_id" {
  description = "Id of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Ids of the private subnets, one per availability zone."
  value       = aws_subnet.private[*].id
}

output "private_route_table_id" {
  description = "Id of the private subnets' route table."
  value       = aws_route_table.private.id
}

output "endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints; the data stack allows HTTPS into it from the application."
  value       = aws_security_group.endpoints.id
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint, for security group egress rules."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "flow_log_group_name" {
  description = "CloudWatch log group receiving the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}

# The shared base of the example: a network-like record per stage, and the settings the app reads.
terraform {
  required_version = ">= 1.6"

  # State location per stage comes from backend_config in .gitops.yaml when set; the default is a local file.
  backend "local" {}
}

variable "stage" {
  type        = string
  description = "Deployment stage (dev or prod)."
}

variable "cidr_block" {
  type        = string
  description = "Address range of the stage's network."
}

variable "zones" {
  type        = list(string)
  description = "Availability zones the stage spans."
}

resource "terraform_data" "network" {
  input = {
    stage      = var.stage
    cidr_block = var.cidr_block
  }
}

resource "terraform_data" "subnet" {
  for_each = toset(var.zones)
  input = {
    zone    = each.key
    network = terraform_data.network.id
  }
}

output "network_id" {
  description = "Identifier of the stage's network."
  value       = terraform_data.network.id
}

output "subnet_zones" {
  description = "Zones that have a subnet."
  value       = sort(keys(terraform_data.subnet))
}

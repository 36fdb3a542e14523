variable "region" {
  type = string
}

resource "terraform_data" "a" {
  input = var.region
}

variable "db_password" {
  type      = string
  sensitive = true
  default   = "correct-horse-battery-staple"
}
resource "terraform_data" "db" {
  input = { user = "app", password = var.db_password }
}
output "password" {
  value     = var.db_password
  sensitive = true
}

resource "terraform_data" "config" {
  input = { size = "large", replicas = 3, tags = { team = "web", "cost-center" = "42" } }
}
resource "terraform_data" "flag" { input = false }

resource "terraform_data" "config" {
  input = { size = "small", replicas = 1, tags = { team = "web" } }
}
resource "terraform_data" "flag" { input = true }

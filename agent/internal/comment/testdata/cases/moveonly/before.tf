resource "terraform_data" "a" { input = "moved" }

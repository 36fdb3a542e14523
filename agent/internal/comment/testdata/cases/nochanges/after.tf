resource "terraform_data" "same" { input = "same" }

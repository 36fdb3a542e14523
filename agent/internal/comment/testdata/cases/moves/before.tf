resource "terraform_data" "a" { input = "moved" }
resource "terraform_data" "legacy" { input = "left alone" }

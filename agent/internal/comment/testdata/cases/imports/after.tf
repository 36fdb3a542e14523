import {
  to = terraform_data.existing
  id = "0f61b5b9-e9e3-1625-f62b-501a232653f9"
}
resource "terraform_data" "existing" {}
resource "terraform_data" "fresh" { input = "new" }

moved {
  from = terraform_data.a
  to   = terraform_data.b
}
resource "terraform_data" "b" { input = "moved" }

removed {
  from = terraform_data.legacy
  lifecycle { destroy = false }
}

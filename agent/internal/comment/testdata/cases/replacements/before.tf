resource "terraform_data" "server" {
  input            = "v1"
  triggers_replace = ["ami-111"]
}

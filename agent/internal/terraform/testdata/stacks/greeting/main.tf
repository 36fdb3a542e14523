terraform {
  backend "local" {}
}

variable "greeting" {
  type    = string
  default = "hello"
}

resource "terraform_data" "greeting" {
  input = "${var.greeting} from ${terraform.workspace}"
}

output "greeting" {
  value = terraform_data.greeting.output
}

# Planning this stack makes terraform print, around the plan, what `show` does not: a data source read,
# a refresh of each object in state, and (with a var file that sets an undeclared variable) a warning.
variable "greeting" {
  type    = string
  default = "hello"
}

resource "terraform_data" "greeting" {
  input = var.greeting
}

data "terraform_remote_state" "other" {
  backend  = "local"
  config   = { path = "${path.module}/other.tfstate" }
  defaults = { answer = 42 }
}

output "answer" {
  value = data.terraform_remote_state.other.outputs.answer
}

variable "env" {
  type    = string
  default = "qa"
  validation {
    condition     = contains(["dev", "prod"], var.env)
    error_message = "Use one of ```dev``` or <b>prod</b> | nothing else."
  }
}
resource "terraform_data" "x" { input = var.env }

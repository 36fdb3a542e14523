variable "unused" {
  type    = number
  default = 1
}

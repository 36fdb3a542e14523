resource "terraform_data" "keep" { input = "k" }
resource "terraform_data" "old" {
  count = 2
  input = "old-${count.index}"
}

resource "terraform_data" "web" {
  count = 2
  input = "web-${count.index}"
}

# Keys from a repository can hold markdown and HTML; the note must show them literally.
resource "terraform_data" "odd" {
  for_each = toset(["a|b", "<img src=x onerror=alert(1)>", "x`y", "@all"])
  input    = each.key
}

output "count" { value = length(terraform_data.web) }

# Applying this stack writes the environment Terraform passes to its provisioners into env.txt.
resource "terraform_data" "probe" {
  input = "probe"

  provisioner "local-exec" {
    command = "env > env.txt"
  }
}

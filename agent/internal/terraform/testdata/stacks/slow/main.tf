# Applying this stack blocks in a provisioner until it is interrupted; "started" marks that the apply
# holds the state lock.
terraform {
  backend "local" {}
}

resource "terraform_data" "slow" {
  input = "slow"

  provisioner "local-exec" {
    command = "touch started && exec sleep 300"
  }
}

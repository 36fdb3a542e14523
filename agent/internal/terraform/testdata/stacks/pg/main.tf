# State in PostgreSQL: the pg backend reads its connection string from PG_CONN_STR, so init and plan
# succeed only when that variable reaches Terraform.
terraform {
  backend "pg" {}
}

resource "terraform_data" "a" {
  input = "in postgres"
}

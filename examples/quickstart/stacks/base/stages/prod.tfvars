stage      = "prod"
cidr_block = "10.30.0.0/16"
zones      = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]

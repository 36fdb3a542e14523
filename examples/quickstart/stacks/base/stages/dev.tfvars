stage      = "dev"
cidr_block = "10.10.0.0/16"
zones      = ["eu-west-1a", "eu-west-1b"]

output "version" { value = "1.1" }

output "version" { value = "1.0" }

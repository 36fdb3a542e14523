greeting = "hi dev"

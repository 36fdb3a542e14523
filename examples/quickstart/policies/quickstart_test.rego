package quickstart

function(memory) := {"resource_changes": [{
	"address": "terraform_data.function",
	"type": "terraform_data",
	"name": "function",
	"change": {"actions": ["create"], "after": {"input": {"memory_mb": memory}}},
}]}

test_prod_memory_enough if {
	count(deny_function_memory) == 0 with input as function(1024) with data.gitops.stage as "prod"
}

test_prod_memory_too_small if {
	some d in deny_function_memory with input as function(256) with data.gitops.stage as "prod"
	d.id == "QS_001"
}

test_dev_memory_small_is_fine if {
	count(deny_function_memory) == 0 with input as function(256) with data.gitops.stage as "dev"
}

test_alias_replacement_warns if {
	some w in warn_alias_replaced with input as {"resource_changes": [{
		"address": "terraform_data.alias",
		"type": "terraform_data",
		"name": "alias",
		"change": {"actions": ["delete", "create"]},
	}]}
	w.id == "QS_002"
}

test_alias_update_does_not_warn if {
	count(warn_alias_replaced) == 0 with input as {"resource_changes": [{
		"address": "terraform_data.alias",
		"type": "terraform_data",
		"name": "alias",
		"change": {"actions": ["update"]},
	}]}
}

# Policies of the quickstart example: every plan of every stack and stage is checked against them. Their
# package is the example's own: an agent's server policies (GITOPS_POLICY_DIR) often use package main, and
# a repository policy may never add to a server package (docs/security.md).
package quickstart

# QS_001: prod functions get enough memory to serve production traffic.
deny_function_memory contains {"id": "QS_001", "address": rc.address, "msg": msg} if {
	data.gitops.stage == "prod"
	some rc in input.resource_changes
	rc.type == "terraform_data"
	rc.name == "function"
	memory := rc.change.after.input.memory_mb
	memory < 512
	msg := sprintf("prod functions need at least 512 MiB of memory, %v is planned; raise memory_mb in stages/prod.tfvars", [memory])
}

# QS_002: replacing the live alias interrupts traffic; say so on the merge request.
warn_alias_replaced contains {"id": "QS_002", "address": rc.address, "msg": "the alias is replaced: requests fail while it is recreated"} if {
	some rc in input.resource_changes
	rc.type == "terraform_data"
	rc.name == "alias"
	"delete" in rc.change.actions
	"create" in rc.change.actions
}

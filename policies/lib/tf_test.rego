package lib.tf_test

import data.lib.fixtures as f
import data.lib.tf

# A block in the root module, one in a module and one in a module of a module, each with instance keys
# in the address that the configuration does not have.
_cfg(name) := f.cfg("aws_iam_role_policy", name, {"role": ["aws_iam_role.r"]})

_configuration := {"root_module": {
	"resources": [_cfg("root")],
	"module_calls": {"app": {"module": {
		"resources": [_cfg("mod")],
		"module_calls": {"store": {"module": {"resources": [_cfg("nested")]}}},
	}}},
}}

_in(r, module_address, address) := object.union(r, {"module_address": module_address, "address": address})

test_refs_in_root_module_and_module_calls if {
	root := object.union(f.rc("aws_iam_role_policy", "root", {}), {"address": "aws_iam_role_policy.root[\"a.b\"]"})
	mod := _in(f.rc("aws_iam_role_policy", "mod", {}), "module.app[0]", "module.app[0].aws_iam_role_policy.mod[1]")
	nested := _in(f.rc("aws_iam_role_policy", "nested", {}), "module.app[0].module.store", "module.app[0].module.store.aws_iam_role_policy.nested")
	plan := {"resource_changes": [root, mod, nested], "configuration": _configuration}
	tf.key(root) == "aws_iam_role_policy.root" with input as plan
	tf.refs(root, "role") == {"aws_iam_role.r"} with input as plan
	tf.refs(mod, "role") == {"module.app.aws_iam_role.r"} with input as plan
	tf.refs(nested, "role") == {"module.app.module.store.aws_iam_role.r"} with input as plan
	tf.config(nested).address == "aws_iam_role_policy.nested" with input as plan
}

test_refs_empty_without_configuration_or_address if {
	other := f.rc("aws_iam_role_policy", "other", {"role": "r"})
	no_address := object.remove(other, ["address"])
	plan := {"resource_changes": [other, no_address], "configuration": _configuration}
	tf.refs(other, "role") == set() with input as plan
	tf.refs(no_address, "role") == set() with input as plan
	tf.block_refs(no_address, "inline_policy", "policy") == set() with input as plan
	tf.targets(no_address, "role") == {"name:r"} with input as plan
}

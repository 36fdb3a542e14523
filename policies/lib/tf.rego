# Package lib.tf reads a Terraform plan (the JSON of `terraform show -json PLANFILE`) for the rules in
# package main. Every lookup here is an index built once per evaluation, so a rule costs time in
# proportion to the resources it looks at, never to the square of the plan.
package lib.tf

# resources[type] lists the managed resource changes of that type that still exist after apply: every
# action but a plain delete. Replacements are included, with their planned values. Every type of the
# plan has an entry, empty when nothing of that type remains.
resources := {t: object.get(_managed_by_type, t, []) | some t in _types}

# data_sources[type] lists the data sources of that type that Terraform reads during apply (their
# values depend on something not yet known at plan time). Every type of the plan has an entry.
data_sources := {t: object.get(_data_by_type, t, []) | some t in _types}

# The groupings iterate only the types present in their own list: the inner comprehension is indexed
# by type (OPA's comprehension indexing), so each takes one pass over its list; a type with no
# entry would miss the index and cost a pass of its own.
_managed_by_type := {t: rcs |
	some t in {rc.type | some rc in managed}
	rcs := [rc |
		some rc in managed
		rc.type == t
	]
}

_data_by_type := {t: rcs |
	some t in {rc.type | some rc in _data}
	rcs := [rc |
		some rc in _data
		rc.type == t
	]
}

_data := [rc |
	some rc in input.resource_changes
	rc.mode == "data"
]

# managed lists every managed resource change that still exists after apply.
managed := [rc |
	some rc in input.resource_changes
	rc.mode == "managed"
	rc.change.actions != ["delete"]
]

# removals lists every managed resource change that deletes an object: plain deletes and replacements.
removals := [rc |
	some rc in input.resource_changes
	rc.mode == "managed"
	rc.change.actions[_] == "delete"
]

# data_by_address indexes the data sources read during apply by their full address.
data_by_address := {rc.address: rc | some rc in _data}

_types := {rc.type | some rc in input.resource_changes}

deleted(rc) if rc.change.actions == ["delete"]

replaced(rc) if {
	"delete" in rc.change.actions
	"create" in rc.change.actions
}

# key is the address of rc's configuration block: its address with every instance key removed, e.g.
# "module.data.aws_s3_bucket.documents" for "module.data.aws_s3_bucket.documents[0]".
key(rc) := _unindexed(rc.address) if is_string(rc.address)

# module_prefix is the module path rc lives in, with a trailing dot, or "" in the root module.
module_prefix(rc) := concat("", [_unindexed(rc.module_address), "."]) if {
	is_string(rc.module_address)
} else := ""

# The lookups below take strings, not the resource change: a call is then remembered by its
# arguments' text, which is cheap to compare, and is the same for every resource of a block.
_unindexed(a) := a if {
	not contains(a, "[")
} else := regex.replace(a, `\[[^\]]*\]`, "")

# config is rc's resource block in the plan's configuration (root module and two levels of module
# calls). Each module's blocks are indexed by address the first time one of them is looked up.
config(rc) := _config(module_prefix(rc), key(rc))

# _config is the block at key k in the module whose prefix is p (as module_prefix).
_config(p, k) := _root_configs[k] if p == ""

_config(p, k) := _module_configs[m][local] if {
	some m, local
	_config_path(p, k) = ["module", m, local]
}

_config(p, k) := _nested_configs[[m, m2]][local] if {
	some m, m2, local
	_config_path(p, k) = ["module", m, "module", m2, local]
}

# _config_path splits the key k in the module p into its module path and the address in the module.
_config_path(p, k) := array.concat(split(trim_suffix(p, "."), "."), [trim_prefix(k, p)])

_root_configs := {r.address: r | some r in input.configuration.root_module.resources}

_module_configs[m] := index if {
	some m, call in input.configuration.root_module.module_calls
	index := {r.address: r | some r in call.module.resources}
}

_nested_configs[[m, m2]] := index if {
	some m, call in input.configuration.root_module.module_calls
	some m2, nested in call.module.module_calls
	index := {r.address: r | some r in nested.module.resources}
}

# refs is the set of absolute addresses the expression of attr in rc's configuration refers to, e.g.
# {"module.data.aws_s3_bucket.documents", "module.data.aws_s3_bucket.documents.id"}; empty when rc has
# no address.
refs(rc, attr) := _refs(module_prefix(rc), key(rc), attr) if {
	is_string(rc.address)
} else := set()

_refs(p, k, attr) := {concat("", [p, r]) |
	some r in _config(p, k).expressions[attr].references
}

# block_refs is refs for an attribute of a nested block, e.g. logging_config[0].log_group.
block_refs(rc, block, attr) := _block_refs(module_prefix(rc), key(rc), block, attr) if {
	is_string(rc.address)
} else := set()

_block_refs(p, k, block, attr) := {concat("", [p, r]) |
	some b in _config(p, k).expressions[block]
	some r in b[attr].references
}

# targets is what attr of rc points at: the configuration references, and the planned value as
# "name:VALUE" when it is known (for objects that already exist or are named literally).
targets(rc, attr) := refs(rc, attr) | {concat("", ["name:", v]) |
	v := rc.change.after[attr]
	is_string(v)
}

# matched holds when rc is the target of one of targets: by its configuration key, or by the known
# value of its attribute name_attr.
matched(rc, keys, _) if key(rc) in keys

matched(rc, keys, name_attr) if {
	v := rc.change.after[name_attr]
	is_string(v)
	concat("", ["name:", v]) in keys
}

# known_true holds when attr of the planned object is literally true.
known_true(obj, attr) if obj[attr] == true

# set_or_unknown holds when attr of obj is a non-empty string, or is known only after apply (unknown
# is the matching after_unknown object; pass {} when there is none).
set_or_unknown(obj, _, attr) if {
	v := obj[attr]
	is_string(v)
	v != ""
}

set_or_unknown(_, unknown, attr) if unknown[attr] == true

# customer_key holds when attr names a KMS key that is not an AWS-managed one (alias/aws/...).
customer_key(obj, _, attr) if {
	v := obj[attr]
	is_string(v)
	v != ""
	not startswith(v, "alias/aws/")
}

customer_key(_, unknown, attr) if unknown[attr] == true

# non_empty_or_unknown holds when attr is a non-empty list or is known only after apply.
non_empty_or_unknown(obj, _, attr) if {
	v := obj[attr]
	is_array(v)
	count(v) > 0
}

non_empty_or_unknown(_, unknown, attr) if unknown[attr] == true

# block_unknown is the after_unknown object of the i-th nested block, or {} when nothing in it is unknown.
block_unknown(rc, block, i) := u if {
	u := rc.change.after_unknown[block][i]
	is_object(u)
} else := {}

# unknown is rc's after_unknown object, or {} when it has none.
unknown(rc) := u if {
	u := rc.change.after_unknown
	is_object(u)
} else := {}

# as_array turns a policy document field that may be one value or a list into a list.
as_array(x) := x if {
	is_array(x)
} else := [x]

# tags are the tags the object will carry: tags_all (provider default_tags included), else tags.
tags(rc) := rc.change.after.tags_all if {
	is_object(rc.change.after.tags_all)
} else := rc.change.after.tags if {
	is_object(rc.change.after.tags)
} else := {}

# taggable holds when the resource type carries tags.
taggable(rc) if _ = rc.change.after.tags_all

taggable(rc) if _ = rc.change.after.tags

# stage is the stage being planned; prod holds for production.
stage := data.gitops.stage

prod if data.gitops.stage == "prod"

# labels is the set of labels on the merge request.
labels := {l | some l in data.gitops.mr.labels}

# finding is the result object every rule of ours produces: conftest's msg, plus a stable id and the
# resource address.
finding(id, rc, msg) := {
	"msg": sprintf("%s: %s", [rc.address, msg]),
	"id": id,
	"address": rc.address,
}

# Package lib.fixtures builds small plan documents for the rule tests.
package lib.fixtures

tags := {"Project": "documents", "Stage": "dev", "Stack": "data", "ManagedBy": "gitops-agent"}

# rc is a managed resource change in the root module creating type.name with the planned values after.
rc(type, name, after) := {
	"address": concat(".", [type, name]),
	"mode": "managed",
	"type": type,
	"name": name,
	"change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}},
}

# with_unknown sets the after_unknown object of r.
with_unknown(r, unknown) := object.union(r, {"change": object.union(r.change, {"after_unknown": unknown})})

# with_actions sets the actions of r.
with_actions(r, actions) := object.union(r, {"change": object.union(r.change, {"actions": actions})})

# data_source is a data source read during apply.
data_source(type, name, after) := {
	"address": concat(".", ["data", type, name]),
	"mode": "data",
	"type": type,
	"name": name,
	"change": {"actions": ["read"], "before": null, "after": after, "after_unknown": {}},
}

# cfg is the configuration block of type.name whose attributes refer to what refs lists:
# {"bucket": ["aws_s3_bucket.b.id", "aws_s3_bucket.b"]}.
cfg(type, name, refs) := {
	"address": concat(".", [type, name]),
	"mode": "managed",
	"type": type,
	"name": name,
	"expressions": {attr: {"references": rs} | some attr, rs in refs},
}

plan(rcs) := {"format_version": "1.2", "resource_changes": rcs, "configuration": {"root_module": {"resources": []}}}

plan_with_config(rcs, cfgs) := {"format_version": "1.2", "resource_changes": rcs, "configuration": {"root_module": {"resources": cfgs}}}

context(stage, labels) := {
	"stage": stage,
	"stack": "data",
	"project": "platform/documents",
	"mr": {"iid": 7, "author": "dev", "labels": labels, "approved_by": []},
}

# ids is the set of rule ids in a rule's results.
ids(results) := {r.id | some r in results}

# Every taggable resource carries the tags that tie it to its project, stage, stack and deployer.
package main

import data.lib.tf

required_tags := {"Project", "Stage", "Stack", "ManagedBy"}

# TAGS_001
deny_missing_tags contains tf.finding("TAGS_001", rc, msg) if {
	some rc in tf.managed
	tags := tf.tags(rc)
	not _all_tagged(tags)
	tf.taggable(rc)
	missing := required_tags - {k | some k, v in tags; is_string(v); v != ""}
	msg := sprintf("missing tags %v; add them to the provider's default_tags (or the resource's tags)", [sort(missing)])
}

# Spelled out rather than iterated: it runs for every resource of the plan.
_all_tagged(tags) if {
	_tagged(tags, "Project")
	_tagged(tags, "Stage")
	_tagged(tags, "Stack")
	_tagged(tags, "ManagedBy")
}

_tagged(tags, k) if {
	v := tags[k]
	is_string(v)
	v != ""
}

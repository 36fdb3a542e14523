# Every taggable resource carries the tags that tie it to its project, stage, stack and deployer.
package main

import data.lib.tf

required_tags := {"Project", "Stage", "Stack", "ManagedBy"}

# TAGS_001
deny_missing_tags contains tf.finding("TAGS_001", rc, msg) if {
	some rc in tf.managed
	tags := tf.tags(rc)
	_all_tagged(tags) == false
	tf.taggable(rc)
	msg := _missing_tags_message(tags)
}

# A function of the tags alone, so that resources carrying the same tags (most of a plan: the
# provider's default_tags) share one message.
_missing_tags_message(tags) := sprintf("missing tags %v; add them to the provider's default_tags (or the resource's tags)", [sort(missing)]) if {
	missing := required_tags - {k | some k, v in tags; is_string(v); v != ""}
}

# Spelled out rather than iterated: it runs for every resource of the plan. False rather than
# undefined when a tag is missing, so that the answer is remembered for the next resource with the same
# tags either way (an undefined result is not).
_all_tagged(tags) if {
	_tagged(tags, "Project")
	_tagged(tags, "Stage")
	_tagged(tags, "Stack")
	_tagged(tags, "ManagedBy")
} else := false

_tagged(tags, k) if {
	v := tags[k]
	is_string(v)
	v != ""
}

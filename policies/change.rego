# Change safety: a plan never silently destroys data, and replacements in prod are called out.
package main

import data.lib.tf

# stateful_types hold data that a delete or a replacement loses.
stateful_types := {
	"aws_rds_cluster",
	"aws_db_instance",
	"aws_s3_bucket",
	"aws_elasticache_replication_group",
	"aws_elasticache_cluster",
	"aws_kms_key",
	"aws_secretsmanager_secret",
	"aws_route53_zone",
}

# CHANGE_001
deny_stateful_destroy contains tf.finding("CHANGE_001", rc, msg) if {
	not "allow-destroy" in tf.labels
	some rc in tf.removals
	rc.type in stateful_types
	msg := sprintf("the plan %s a stateful resource and its data; if this is intended, add the label allow-destroy to the merge request, else %s", [_verb(rc), _remedy(rc)])
}

_verb(rc) := "replaces" if tf.replaced(rc)

_verb(rc) := "destroys" if not tf.replaced(rc)

_remedy(rc) := "change what forces the replacement (the plan's replace_paths)" if tf.replaced(rc)

_remedy(rc) := "restore its configuration, or stop managing it with a removed block (lifecycle { destroy = false })" if not tf.replaced(rc)

# CHANGE_002
warn_prod_replace contains tf.finding("CHANGE_002", rc, msg) if {
	tf.prod
	some rc in tf.removals
	tf.replaced(rc)
	msg := "the resource is replaced in prod (destroyed and created again), which interrupts what depends on it; check the plan's replace_paths"
}

# CHANGE_003: what is applied to prod is what reviewers saw. At promotion the agent compares the plan made
# at the merge commit with the last plan posted on the merge request for the same stack and stage; a
# difference (or no plan posted at all) sets data.gitops.plan_matches_review to false. Outside promotion
# the flag is absent and this rule is silent.
deny_unreviewed_prod contains {"id": "CHANGE_003", "address": "", "msg": msg} if {
	tf.prod
	data.gitops.plan_matches_review == false
	msg := "the prod plan at the merge commit differs from the plan reviewed on the merge request (the deploy note lists the differences); open a merge request that plans the change and have it reviewed"
}

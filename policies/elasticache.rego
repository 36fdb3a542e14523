# ElastiCache replication groups: encrypted in transit and at rest, clients authenticate, and in prod a
# replica takes over automatically when the primary fails.
package main

import data.lib.tf

# ELASTICACHE_001
deny_elasticache_transit_encryption contains tf.finding("ELASTICACHE_001", g, msg) if {
	some g in tf.resources.aws_elasticache_replication_group
	not _on(g, "transit_encryption_enabled")
	msg := "encryption in transit is off; set transit_encryption_enabled = true"
}

# ELASTICACHE_002
deny_elasticache_at_rest_encryption contains tf.finding("ELASTICACHE_002", g, msg) if {
	some g in tf.resources.aws_elasticache_replication_group
	not _on(g, "at_rest_encryption_enabled")
	msg := "encryption at rest is off; set at_rest_encryption_enabled = true and kms_key_id to your aws_kms_key"
}

# The provider types at_rest_encryption_enabled as a string in newer versions.
_on(g, attr) if g.change.after[attr] in {true, "true"}

# ELASTICACHE_003
deny_elasticache_auth contains tf.finding("ELASTICACHE_003", g, msg) if {
	some g in tf.resources.aws_elasticache_replication_group
	not _authenticates(g)
	msg := "clients connect without authentication; set auth_token (from Secrets Manager) or user_group_ids"
}

_authenticates(g) if tf.set_or_unknown(g.change.after, tf.unknown(g), "auth_token")

_authenticates(g) if tf.non_empty_or_unknown(g.change.after, tf.unknown(g), "user_group_ids")

# ELASTICACHE_004
deny_elasticache_failover contains tf.finding("ELASTICACHE_004", g, msg) if {
	tf.prod
	some g in tf.resources.aws_elasticache_replication_group
	not _fails_over(g)
	msg := "no automatic failover in prod; set automatic_failover_enabled = true, multi_az_enabled = true and at least 2 cache clusters"
}

_fails_over(g) if {
	tf.known_true(g.change.after, "automatic_failover_enabled")
	tf.known_true(g.change.after, "multi_az_enabled")
}

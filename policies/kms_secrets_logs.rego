# KMS keys rotate, secrets are encrypted with a customer key, and log groups expire their events.
package main

import data.lib.tf

# KMS_001
deny_kms_rotation contains tf.finding("KMS_001", k, msg) if {
	some k in tf.resources.aws_kms_key
	_symmetric(k)
	not tf.known_true(k.change.after, "enable_key_rotation")
	msg := "automatic key rotation is off; set enable_key_rotation = true"
}

# Only symmetric keys can rotate automatically.
_symmetric(k) if object.get(k.change.after, "customer_master_key_spec", null) in {null, "SYMMETRIC_DEFAULT"}

# SECRETS_001
deny_secret_kms contains tf.finding("SECRETS_001", s, msg) if {
	some s in tf.resources.aws_secretsmanager_secret
	not _secret_customer_key(s)
	msg := "the secret is encrypted with the AWS managed key; set kms_key_id to your aws_kms_key"
}

_secret_customer_key(s) if tf.customer_key(s.change.after, tf.unknown(s), "kms_key_id")

# LOGS_001
deny_log_retention contains tf.finding("LOGS_001", g, msg) if {
	some g in tf.resources.aws_cloudwatch_log_group
	not _expires(g)
	msg := "log events never expire; set retention_in_days (e.g. 30, or 365 in prod)"
}

_expires(g) if g.change.after.retention_in_days > 0

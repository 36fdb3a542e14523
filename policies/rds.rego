# Aurora clusters, RDS instances and RDS Proxy: encrypted with a customer key, IAM authentication,
# never public, backed up and protected from deletion in prod, TLS required at the proxy.
package main

import data.lib.tf

_db_types := ["aws_rds_cluster", "aws_db_instance"]

# RDS_001
deny_rds_encryption contains tf.finding("RDS_001", db, msg) if {
	some t in _db_types
	some db in tf.resources[t]
	not _encrypted_with_customer_key(db)
	msg := "storage is not encrypted with a customer managed key; set storage_encrypted = true and kms_key_id to your aws_kms_key"
}

_encrypted_with_customer_key(db) if {
	tf.known_true(db.change.after, "storage_encrypted")
	tf.customer_key(db.change.after, tf.unknown(db), "kms_key_id")
}

# RDS_002
deny_rds_iam_auth contains tf.finding("RDS_002", db, msg) if {
	some t in _db_types
	some db in tf.resources[t]
	not tf.known_true(db.change.after, "iam_database_authentication_enabled")
	msg := "IAM database authentication is off; set iam_database_authentication_enabled = true"
}

# RDS_003
deny_rds_public contains tf.finding("RDS_003", db, msg) if {
	some t in ["aws_db_instance", "aws_rds_cluster_instance"]
	some db in tf.resources[t]
	db.change.after.publicly_accessible == true
	msg := "database is publicly accessible; set publicly_accessible = false and reach it through the VPC"
}

# RDS_004
deny_rds_backup_retention contains tf.finding("RDS_004", db, msg) if {
	tf.prod
	some t in _db_types
	some db in tf.resources[t]
	not _retains_a_week(db)
	msg := "backups are kept less than 7 days in prod; set backup_retention_period = 7 or more"
}

_retains_a_week(db) if db.change.after.backup_retention_period >= 7

# RDS_005
deny_rds_deletion_protection contains tf.finding("RDS_005", db, msg) if {
	tf.prod
	some t in _db_types
	some db in tf.resources[t]
	not tf.known_true(db.change.after, "deletion_protection")
	msg := "deletion protection is off in prod; set deletion_protection = true"
}

# RDSPROXY_001
deny_rds_proxy_tls contains tf.finding("RDSPROXY_001", p, msg) if {
	some p in tf.resources.aws_db_proxy
	not tf.known_true(p.change.after, "require_tls")
	msg := "the proxy accepts connections without TLS; set require_tls = true"
}

# RDSPROXY_002
deny_rds_proxy_iam_auth contains tf.finding("RDSPROXY_002", p, msg) if {
	some p in tf.resources.aws_db_proxy
	not _proxy_requires_iam(p)
	msg := "the proxy does not require IAM authentication; set iam_auth = \"REQUIRED\" in every auth block"
}

_proxy_requires_iam(p) if {
	is_array(p.change.after.auth)
	count(p.change.after.auth) > 0
	every a in p.change.after.auth {
		a.iam_auth == "REQUIRED"
	}
}

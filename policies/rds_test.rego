package main_test

import data.lib.fixtures as f
import data.main

_cluster(over) := f.rc("aws_rds_cluster", "main", object.union(
	{
		"engine": "aurora-postgresql",
		"storage_encrypted": true,
		"kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/1",
		"iam_database_authentication_enabled": true,
		"backup_retention_period": 14,
		"deletion_protection": true,
		"tags_all": f.tags,
	},
	over,
))

_prod := f.context("prod", [])

test_rds_encryption_passes if {
	count(main.deny_rds_encryption) == 0 with input as f.plan([_cluster({})])
}

test_rds_encryption_passes_with_key_known_after_apply if {
	db := f.with_unknown(f.rc("aws_db_instance", "legacy", {"storage_encrypted": true}), {"kms_key_id": true})
	count(main.deny_rds_encryption) == 0 with input as f.plan([db])
}

test_rds_encryption_denied_without_customer_key if {
	f.ids(main.deny_rds_encryption) == {"RDS_001"} with input as f.plan([_cluster({"kms_key_id": null})])
}

test_rds_encryption_denied_when_unencrypted if {
	f.ids(main.deny_rds_encryption) == {"RDS_001"} with input as f.plan([_cluster({"storage_encrypted": false})])
}

test_rds_iam_auth_passes if {
	count(main.deny_rds_iam_auth) == 0 with input as f.plan([_cluster({})])
}

test_rds_iam_auth_denied if {
	f.ids(main.deny_rds_iam_auth) == {"RDS_002"} with input as f.plan([_cluster({"iam_database_authentication_enabled": false})])
}

test_rds_public_passes if {
	i := f.rc("aws_rds_cluster_instance", "main", {"publicly_accessible": false})
	count(main.deny_rds_public) == 0 with input as f.plan([i])
}

test_rds_public_denied if {
	i := f.rc("aws_rds_cluster_instance", "main", {"publicly_accessible": true})
	f.ids(main.deny_rds_public) == {"RDS_003"} with input as f.plan([i])
}

test_rds_backup_retention_passes_in_prod if {
	count(main.deny_rds_backup_retention) == 0 with input as f.plan([_cluster({})]) with data.gitops as _prod
}

test_rds_backup_retention_only_in_prod if {
	count(main.deny_rds_backup_retention) == 0 with input as f.plan([_cluster({"backup_retention_period": 1})]) with data.gitops as f.context("dev", [])
}

test_rds_backup_retention_denied_in_prod if {
	f.ids(main.deny_rds_backup_retention) == {"RDS_004"} with input as f.plan([_cluster({"backup_retention_period": 3})]) with data.gitops as _prod
}

test_rds_deletion_protection_passes_in_prod if {
	count(main.deny_rds_deletion_protection) == 0 with input as f.plan([_cluster({})]) with data.gitops as _prod
}

test_rds_deletion_protection_denied_in_prod if {
	f.ids(main.deny_rds_deletion_protection) == {"RDS_005"} with input as f.plan([_cluster({"deletion_protection": false})]) with data.gitops as _prod
}

_proxy(over) := f.rc("aws_db_proxy", "main", object.union(
	{"require_tls": true, "auth": [{"auth_scheme": "SECRETS", "iam_auth": "REQUIRED", "secret_arn": "arn:x"}]},
	over,
))

test_rds_proxy_tls_passes if {
	count(main.deny_rds_proxy_tls) == 0 with input as f.plan([_proxy({})])
}

test_rds_proxy_tls_denied if {
	f.ids(main.deny_rds_proxy_tls) == {"RDSPROXY_001"} with input as f.plan([_proxy({"require_tls": false})])
}

test_rds_proxy_iam_auth_passes if {
	count(main.deny_rds_proxy_iam_auth) == 0 with input as f.plan([_proxy({})])
}

test_rds_proxy_iam_auth_denied if {
	f.ids(main.deny_rds_proxy_iam_auth) == {"RDSPROXY_002"} with input as f.plan([_proxy({"auth": [{"auth_scheme": "SECRETS", "iam_auth": "DISABLED"}]})])
}

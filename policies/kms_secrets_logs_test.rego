package main_test

import data.lib.fixtures as f
import data.main

test_kms_rotation_passes if {
	k := f.rc("aws_kms_key", "data", {"enable_key_rotation": true, "customer_master_key_spec": "SYMMETRIC_DEFAULT"})
	count(main.deny_kms_rotation) == 0 with input as f.plan([k])
}

test_kms_rotation_not_required_for_asymmetric_keys if {
	k := f.rc("aws_kms_key", "sign", {"enable_key_rotation": false, "customer_master_key_spec": "RSA_2048"})
	count(main.deny_kms_rotation) == 0 with input as f.plan([k])
}

test_kms_rotation_denied if {
	k := f.rc("aws_kms_key", "data", {"enable_key_rotation": false})
	f.ids(main.deny_kms_rotation) == {"KMS_001"} with input as f.plan([k])
}

test_secret_kms_passes_with_key_known_after_apply if {
	s := f.with_unknown(f.rc("aws_secretsmanager_secret", "db", {"name": "db"}), {"kms_key_id": true})
	count(main.deny_secret_kms) == 0 with input as f.plan([s])
}

test_secret_kms_denied if {
	s := f.rc("aws_secretsmanager_secret", "db", {"name": "db", "kms_key_id": null})
	f.ids(main.deny_secret_kms) == {"SECRETS_001"} with input as f.plan([s])
}

test_log_retention_passes if {
	g := f.rc("aws_cloudwatch_log_group", "api", {"name": "/aws/lambda/api", "retention_in_days": 30})
	count(main.deny_log_retention) == 0 with input as f.plan([g])
}

test_log_retention_denied if {
	g := f.rc("aws_cloudwatch_log_group", "api", {"name": "/aws/lambda/api", "retention_in_days": 0})
	f.ids(main.deny_log_retention) == {"LOGS_001"} with input as f.plan([g])
}

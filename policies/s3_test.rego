package main_test

import data.lib.fixtures as f
import data.main

_bucket := f.rc("aws_s3_bucket", "docs", {"bucket": "docs-dev", "tags_all": f.tags})

# The bucket's name is unknown until apply: the parts match it through configuration references.
_unnamed_bucket := f.with_unknown(f.rc("aws_s3_bucket", "docs", {"bucket_prefix": "docs-", "tags_all": f.tags}), {"bucket": true})

_sse(alg, key) := f.with_unknown(
	f.rc("aws_s3_bucket_server_side_encryption_configuration", "docs", {"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": alg, "kms_master_key_id": key}], "bucket_key_enabled": true}]}),
	{"bucket": true},
)

_refs(type) := f.cfg(type, "docs", {"bucket": ["aws_s3_bucket.docs.id", "aws_s3_bucket.docs"]})

test_s3_encryption_passes_by_reference if {
	count(main.deny_s3_encryption) == 0 with input as f.plan_with_config(
		[_unnamed_bucket, _sse("aws:kms", "arn:aws:kms:eu-west-1:123456789012:key/1")],
		[_refs("aws_s3_bucket_server_side_encryption_configuration")],
	)
}

test_s3_encryption_passes_with_unknown_key if {
	sse := f.with_unknown(
		f.rc("aws_s3_bucket_server_side_encryption_configuration", "docs", {"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}]}),
		{"bucket": true, "rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": true}]}]},
	)
	count(main.deny_s3_encryption) == 0 with input as f.plan_with_config([_unnamed_bucket, sse], [_refs("aws_s3_bucket_server_side_encryption_configuration")])
}

test_s3_encryption_denied_with_aes256 if {
	f.ids(main.deny_s3_encryption) == {"S3_001"} with input as f.plan_with_config(
		[_unnamed_bucket, _sse("AES256", null)],
		[_refs("aws_s3_bucket_server_side_encryption_configuration")],
	)
}

test_s3_encryption_denied_with_aws_managed_key if {
	f.ids(main.deny_s3_encryption) == {"S3_001"} with input as f.plan_with_config(
		[_unnamed_bucket, _sse("aws:kms", "alias/aws/s3")],
		[_refs("aws_s3_bucket_server_side_encryption_configuration")],
	)
}

test_s3_encryption_denied_when_it_configures_another_bucket if {
	other := f.cfg("aws_s3_bucket_server_side_encryption_configuration", "docs", {"bucket": ["aws_s3_bucket.logs.id", "aws_s3_bucket.logs"]})
	f.ids(main.deny_s3_encryption) == {"S3_001"} with input as f.plan_with_config(
		[_unnamed_bucket, _sse("aws:kms", "arn:aws:kms:eu-west-1:123456789012:key/1")],
		[other],
	)
}

_pab(flag) := f.rc("aws_s3_bucket_public_access_block", "docs", {
	"bucket": "docs-dev",
	"block_public_acls": true,
	"block_public_policy": true,
	"ignore_public_acls": true,
	"restrict_public_buckets": flag,
})

test_s3_public_access_block_passes_by_name if {
	count(main.deny_s3_public_access_block) == 0 with input as f.plan([_bucket, _pab(true)])
}

test_s3_public_access_block_denied_when_one_is_off if {
	f.ids(main.deny_s3_public_access_block) == {"S3_002"} with input as f.plan([_bucket, _pab(false)])
}

_versioning(status) := f.rc("aws_s3_bucket_versioning", "docs", {"bucket": "docs-dev", "versioning_configuration": [{"status": status}]})

test_s3_versioning_passes if {
	count(main.deny_s3_versioning) == 0 with input as f.plan([_bucket, _versioning("Enabled")])
}

test_s3_versioning_denied_when_suspended if {
	f.ids(main.deny_s3_versioning) == {"S3_003"} with input as f.plan([_bucket, _versioning("Suspended")])
}

_tls_policy := json.marshal({"Version": "2012-10-17", "Statement": [{
	"Sid": "TLSOnly",
	"Effect": "Deny",
	"Principal": "*",
	"Action": "s3:*",
	"Resource": ["arn:aws:s3:::docs-dev", "arn:aws:s3:::docs-dev/*"],
	"Condition": {"Bool": {"aws:SecureTransport": "false"}},
}]})

test_s3_tls_only_passes_with_known_policy if {
	p := f.rc("aws_s3_bucket_policy", "docs", {"bucket": "docs-dev", "policy": _tls_policy})
	count(main.deny_s3_tls_only) == 0 with input as f.plan([_bucket, p])
}

test_s3_tls_only_passes_with_policy_document_read_at_apply if {
	p := f.with_unknown(f.rc("aws_s3_bucket_policy", "docs", {}), {"bucket": true, "policy": true})
	doc := f.data_source("aws_iam_policy_document", "tls", {"statement": [{
		"effect": "Deny",
		"actions": ["s3:*"],
		"condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
	}]})
	cfg := f.cfg("aws_s3_bucket_policy", "docs", {
		"bucket": ["aws_s3_bucket.docs.id", "aws_s3_bucket.docs"],
		"policy": ["data.aws_iam_policy_document.tls.json", "data.aws_iam_policy_document.tls"],
	})
	count(main.deny_s3_tls_only) == 0 with input as f.plan_with_config([_unnamed_bucket, p, doc], [cfg])
}

test_s3_tls_only_denied_without_secure_transport_condition if {
	policy := json.marshal({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]})
	p := f.rc("aws_s3_bucket_policy", "docs", {"bucket": "docs-dev", "policy": policy})
	f.ids(main.deny_s3_tls_only) == {"S3_004"} with input as f.plan([_bucket, p])
}

test_s3_rules_ignore_deleted_buckets if {
	gone := f.with_actions(_bucket, ["delete"])
	count(main.deny_s3_encryption | main.deny_s3_versioning) == 0 with input as f.plan([gone])
}

# Module addresses: references inside a module are relative to it; nested modules work too.
_in_module(r, path) := object.union(r, {
	"address": concat(".", [path, r.address]),
	"module_address": path,
})

test_s3_versioning_matches_references_in_nested_modules if {
	bucket := _in_module(_unnamed_bucket, "module.app[0].module.store")
	v := _in_module(f.with_unknown(f.rc("aws_s3_bucket_versioning", "docs", {"versioning_configuration": [{"status": "Enabled"}]}), {"bucket": true}), "module.app[0].module.store")
	nested := {"module_calls": {"app": {"module": {"module_calls": {"store": {"module": {"resources": [_refs("aws_s3_bucket_versioning")]}}}}}}}
	count(main.deny_s3_versioning) == 0 with input as {"resource_changes": [bucket, v], "configuration": {"root_module": nested}}
}

test_s3_versioning_does_not_match_across_modules if {
	bucket := _in_module(_unnamed_bucket, "module.other")
	v := _in_module(f.with_unknown(f.rc("aws_s3_bucket_versioning", "docs", {"versioning_configuration": [{"status": "Enabled"}]}), {"bucket": true}), "module.store")
	calls := {"module_calls": {"store": {"module": {"resources": [_refs("aws_s3_bucket_versioning")]}}}}
	f.ids(main.deny_s3_versioning) == {"S3_003"} with input as {"resource_changes": [bucket, v], "configuration": {"root_module": calls}}
}

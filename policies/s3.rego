# S3 buckets: encrypted with a customer KMS key, closed to the public, versioned, reachable over TLS
# only. Buckets are configured by separate resources (aws_s3_bucket_*), matched to their bucket through
# the configuration's references, so a bucket whose name is still unknown is matched too.
package main

import data.lib.tf

# S3_001
deny_s3_encryption contains tf.finding("S3_001", b, msg) if {
	some b in tf.resources.aws_s3_bucket
	not tf.matched(b, _sse_kms_buckets, "bucket")
	msg := "bucket is not encrypted with SSE-KMS and a customer managed key; add an aws_s3_bucket_server_side_encryption_configuration with sse_algorithm = \"aws:kms\" and kms_master_key_id set to your aws_kms_key"
}

_sse_kms_buckets contains k if {
	some c in tf.resources.aws_s3_bucket_server_side_encryption_configuration
	some rule in c.change.after.rule
	some d in rule.apply_server_side_encryption_by_default
	d.sse_algorithm == "aws:kms"
	_kms_key_given(c, d)
	some k in tf.targets(c, "bucket")
}

_kms_key_given(_, d) if tf.customer_key(d, {}, "kms_master_key_id")

_kms_key_given(c, _) if {
	some r in c.change.after_unknown.rule
	some d in r.apply_server_side_encryption_by_default
	d.kms_master_key_id == true
}

# S3_002
deny_s3_public_access_block contains tf.finding("S3_002", b, msg) if {
	some b in tf.resources.aws_s3_bucket
	not tf.matched(b, _blocked_buckets, "bucket")
	msg := "bucket does not block public access; add an aws_s3_bucket_public_access_block with block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets all true"
}

_blocked_buckets contains k if {
	some p in tf.resources.aws_s3_bucket_public_access_block
	every attr in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"] {
		p.change.after[attr] == true
	}
	some k in tf.targets(p, "bucket")
}

# S3_003
deny_s3_versioning contains tf.finding("S3_003", b, msg) if {
	some b in tf.resources.aws_s3_bucket
	not tf.matched(b, _versioned_buckets, "bucket")
	msg := "bucket versioning is not enabled; add an aws_s3_bucket_versioning with versioning_configuration { status = \"Enabled\" }"
}

_versioned_buckets contains k if {
	some v in tf.resources.aws_s3_bucket_versioning
	some c in v.change.after.versioning_configuration
	c.status == "Enabled"
	some k in tf.targets(v, "bucket")
}

# S3_004
deny_s3_tls_only contains tf.finding("S3_004", b, msg) if {
	some b in tf.resources.aws_s3_bucket
	not tf.matched(b, _tls_only_buckets, "bucket")
	msg := "bucket accepts requests without TLS; add an aws_s3_bucket_policy with a Deny statement on s3:* when aws:SecureTransport is false"
}

_tls_only_buckets contains k if {
	some p in tf.resources.aws_s3_bucket_policy
	_denies_insecure_transport(p)
	some k in tf.targets(p, "bucket")
}

# A policy known at plan time is read as JSON; a malformed one is an evaluation error, never a pass.
_denies_insecure_transport(p) if {
	is_string(p.change.after.policy)
	doc := json.unmarshal(p.change.after.policy)
	some s in tf.as_array(doc.Statement)
	s.Effect == "Deny"
	some v in tf.as_array(s.Condition.Bool["aws:SecureTransport"])
	v in {"false", false}
}

# A policy known only after apply comes from an aws_iam_policy_document read during apply: its
# statements are read from the planned data source.
_denies_insecure_transport(p) if {
	p.change.after_unknown.policy == true
	some addr in tf.refs(p, "policy")
	doc := tf.data_by_address[addr]
	doc.type == "aws_iam_policy_document"
	some s in doc.change.after.statement
	s.effect == "Deny"
	some c in s.condition
	c.test == "Bool"
	c.variable == "aws:SecureTransport"
	"false" in c.values
}

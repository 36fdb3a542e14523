# Lambda functions: run inside the VPC, log to a log group with retention, and trace with X-Ray.
package main

import data.lib.tf

# LAMBDA_001
deny_lambda_vpc contains tf.finding("LAMBDA_001", f, msg) if {
	some f in tf.resources.aws_lambda_function
	not _in_vpc(f)
	msg := "the function runs outside the VPC; set vpc_config with subnet_ids and security_group_ids"
}

_in_vpc(f) if {
	some i, c in f.change.after.vpc_config
	unknown := tf.block_unknown(f, "vpc_config", i)
	tf.non_empty_or_unknown(c, unknown, "subnet_ids")
	tf.non_empty_or_unknown(c, unknown, "security_group_ids")
}

# LAMBDA_002
deny_lambda_log_retention contains tf.finding("LAMBDA_002", f, msg) if {
	some f in tf.resources.aws_lambda_function
	not _logs_retained(f)
	msg := "the function has no log group with a retention period; add an aws_cloudwatch_log_group named /aws/lambda/<function_name> with retention_in_days set"
}

_retained_log_groups contains tf.key(g) if {
	some g in tf.resources.aws_cloudwatch_log_group
	g.change.after.retention_in_days > 0
}

_retained_log_groups contains concat("", ["name:", g.change.after.name]) if {
	some g in tf.resources.aws_cloudwatch_log_group
	g.change.after.retention_in_days > 0
	is_string(g.change.after.name)
}

_logs_retained(f) if {
	is_string(f.change.after.function_name)
	concat("", ["name:/aws/lambda/", f.change.after.function_name]) in _retained_log_groups
}

_logs_retained(f) if {
	some c in f.change.after.logging_config
	is_string(c.log_group)
	concat("", ["name:", c.log_group]) in _retained_log_groups
}

_logs_retained(f) if {
	some k in tf.block_refs(f, "logging_config", "log_group")
	k in _retained_log_groups
}

# LAMBDA_003
deny_lambda_tracing contains tf.finding("LAMBDA_003", f, msg) if {
	some f in tf.resources.aws_lambda_function
	not _traced(f)
	msg := "X-Ray tracing is off; set tracing_config { mode = \"Active\" }"
}

_traced(f) if {
	some c in f.change.after.tracing_config
	c.mode == "Active"
}

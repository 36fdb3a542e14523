# API Gateway (REST): access logs, a WAF in front of every stage, TLS 1.2 or newer on custom domains,
# and an API key on every method.
package main

import data.lib.tf

# APIGW_001
deny_apigw_access_logs contains tf.finding("APIGW_001", s, msg) if {
	some s in tf.resources.aws_api_gateway_stage
	not _access_logged(s)
	msg := "the stage writes no access logs; set access_log_settings with destination_arn (a log group) and format"
}

_access_logged(s) if {
	some i, c in s.change.after.access_log_settings
	tf.set_or_unknown(c, tf.block_unknown(s, "access_log_settings", i), "destination_arn")
}

# APIGW_002
deny_apigw_waf contains tf.finding("APIGW_002", s, msg) if {
	some s in tf.resources.aws_api_gateway_stage
	not tf.matched(s, _waf_protected, "arn")
	msg := "no WAF web ACL protects the stage; add an aws_wafv2_web_acl_association with resource_arn = the stage's arn"
}

_waf_protected contains k if {
	some a in tf.resources.aws_wafv2_web_acl_association
	some k in tf.targets(a, "resource_arn")
}

_tls_policies := {"TLS_1_2"}

# APIGW_003
deny_apigw_tls contains tf.finding("APIGW_003", d, msg) if {
	some d in tf.resources.aws_api_gateway_domain_name
	not _modern_tls(d)
	msg := "the custom domain accepts TLS older than 1.2; set security_policy = \"TLS_1_2\""
}

_modern_tls(d) if d.change.after.security_policy in _tls_policies

# Enhanced security policies (SecurityPolicy_TLS13_..., SecurityPolicy_TLS12_...) all require 1.2+.
_modern_tls(d) if {
	is_string(d.change.after.security_policy)
	regex.match(`^SecurityPolicy_TLS1[23]`, d.change.after.security_policy)
}

# APIGW_004
deny_apigw_api_key contains tf.finding("APIGW_004", m, msg) if {
	some m in tf.resources.aws_api_gateway_method
	m.change.after.http_method != "OPTIONS"
	not tf.known_true(m.change.after, "api_key_required")
	msg := "the method does not require an API key; set api_key_required = true and attach a usage plan"
}

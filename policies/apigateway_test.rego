package main_test

import data.lib.fixtures as f
import data.main

_stage(over) := f.with_unknown(
	f.rc("aws_api_gateway_stage", "live", object.union({"stage_name": "live", "access_log_settings": [{"format": "{}"}]}, over)),
	{"arn": true, "access_log_settings": [{"destination_arn": true}]},
)

_assoc := f.with_unknown(f.rc("aws_wafv2_web_acl_association", "api", {}), {"resource_arn": true, "web_acl_arn": true})

_assoc_cfg := f.cfg("aws_wafv2_web_acl_association", "api", {
	"resource_arn": ["aws_api_gateway_stage.live.arn", "aws_api_gateway_stage.live"],
	"web_acl_arn": ["aws_wafv2_web_acl.api.arn", "aws_wafv2_web_acl.api"],
})

test_apigw_access_logs_passes if {
	count(main.deny_apigw_access_logs) == 0 with input as f.plan([_stage({})])
}

test_apigw_access_logs_denied if {
	s := f.rc("aws_api_gateway_stage", "live", {"stage_name": "live", "access_log_settings": []})
	f.ids(main.deny_apigw_access_logs) == {"APIGW_001"} with input as f.plan([s])
}

test_apigw_waf_passes_by_reference if {
	count(main.deny_apigw_waf) == 0 with input as f.plan_with_config([_stage({}), _assoc], [_assoc_cfg])
}

test_apigw_waf_passes_by_arn if {
	s := f.rc("aws_api_gateway_stage", "live", {"arn": "arn:aws:apigateway:eu-west-1::/restapis/abc/stages/live"})
	a := f.rc("aws_wafv2_web_acl_association", "api", {"resource_arn": "arn:aws:apigateway:eu-west-1::/restapis/abc/stages/live"})
	count(main.deny_apigw_waf) == 0 with input as f.plan([s, a])
}

test_apigw_waf_denied_without_association if {
	f.ids(main.deny_apigw_waf) == {"APIGW_002"} with input as f.plan([_stage({})])
}

test_apigw_tls_passes if {
	d := f.rc("aws_api_gateway_domain_name", "api", {"domain_name": "api.example.com", "security_policy": "TLS_1_2"})
	count(main.deny_apigw_tls) == 0 with input as f.plan([d])
}

test_apigw_tls_denied_for_tls_1_0 if {
	d := f.rc("aws_api_gateway_domain_name", "api", {"domain_name": "api.example.com", "security_policy": "TLS_1_0"})
	f.ids(main.deny_apigw_tls) == {"APIGW_003"} with input as f.plan([d])
}

test_apigw_tls_denied_when_unset if {
	d := f.rc("aws_api_gateway_domain_name", "api", {"domain_name": "api.example.com"})
	f.ids(main.deny_apigw_tls) == {"APIGW_003"} with input as f.plan([d])
}

test_apigw_api_key_passes if {
	m := f.rc("aws_api_gateway_method", "proxy", {"http_method": "ANY", "api_key_required": true})
	o := f.rc("aws_api_gateway_method", "cors", {"http_method": "OPTIONS", "api_key_required": false})
	count(main.deny_apigw_api_key) == 0 with input as f.plan([m, o])
}

test_apigw_api_key_denied if {
	m := f.rc("aws_api_gateway_method", "proxy", {"http_method": "ANY", "api_key_required": false})
	f.ids(main.deny_apigw_api_key) == {"APIGW_004"} with input as f.plan([m])
}

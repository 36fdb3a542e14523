package main_test

import data.lib.fixtures as f
import data.main

_listener(over) := f.rc("aws_lb_listener", "https", object.union({"port": 443, "protocol": "HTTPS", "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "default_action": [{"type": "forward"}]}, over))

_alb(over) := f.with_unknown(
	f.rc("aws_lb", "agent", object.union({"name": "agent", "internal": false, "load_balancer_type": "application"}, over)),
	{"arn": true},
)

_alb_assoc := f.with_unknown(f.rc("aws_wafv2_web_acl_association", "alb", {}), {"resource_arn": true, "web_acl_arn": true})

_alb_assoc_cfg := f.cfg("aws_wafv2_web_acl_association", "alb", {
	"resource_arn": ["aws_lb.agent.arn", "aws_lb.agent"],
	"web_acl_arn": ["aws_wafv2_web_acl.agent.arn", "aws_wafv2_web_acl.agent"],
})

test_lb_listener_tls_passes if {
	count(main.deny_lb_listener_tls) == 0 with input as f.plan([_listener({})])
}

test_lb_listener_tls_passes_for_tls_1_3_only if {
	l := _listener({"ssl_policy": "ELBSecurityPolicy-TLS13-1-3-2021-06"})
	count(main.deny_lb_listener_tls) == 0 with input as f.plan([l])
}

test_lb_listener_tls_denied_for_tls_1_0_policy if {
	l := _listener({"ssl_policy": "ELBSecurityPolicy-2016-08"})
	f.ids(main.deny_lb_listener_tls) == {"ALB_001"} with input as f.plan([l])
}

test_lb_listener_tls_denied_for_tls13_1_1_policy if {
	l := _listener({"ssl_policy": "ELBSecurityPolicy-TLS13-1-1-2021-06"})
	f.ids(main.deny_lb_listener_tls) == {"ALB_001"} with input as f.plan([l])
}

test_lb_listener_tls_denied_when_policy_unset if {
	l := f.rc("aws_lb_listener", "https", {"port": 443, "protocol": "HTTPS", "default_action": [{"type": "forward"}]})
	f.ids(main.deny_lb_listener_tls) == {"ALB_001"} with input as f.plan([l])
}

test_lb_listener_http_redirect_passes if {
	l := _listener({"port": 80, "protocol": "HTTP", "ssl_policy": null, "default_action": [{"type": "redirect", "redirect": [{"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}]}]})
	count(main.deny_lb_listener_tls) == 0 with input as f.plan([l])
}

test_lb_listener_plain_http_denied if {
	l := _listener({"port": 80, "protocol": "HTTP", "ssl_policy": null})
	f.ids(main.deny_lb_listener_tls) == {"ALB_001"} with input as f.plan([l])
}

test_alb_waf_passes_by_reference if {
	count(main.deny_alb_waf) == 0 with input as f.plan_with_config([_alb({}), _alb_assoc], [_alb_assoc_cfg])
}

test_alb_waf_passes_by_arn if {
	arn := "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/agent/0123456789abcdef"
	lb := f.rc("aws_lb", "agent", {"name": "agent", "internal": false, "arn": arn})
	a := f.rc("aws_wafv2_web_acl_association", "alb", {"resource_arn": arn})
	count(main.deny_alb_waf) == 0 with input as f.plan([lb, a])
}

test_alb_waf_not_needed_when_internal if {
	count(main.deny_alb_waf) == 0 with input as f.plan([_alb({"internal": true})])
}

test_alb_waf_not_needed_for_network_load_balancer if {
	count(main.deny_alb_waf) == 0 with input as f.plan([_alb({"load_balancer_type": "network"})])
}

test_alb_waf_denied_without_association if {
	f.ids(main.deny_alb_waf) == {"ALB_002"} with input as f.plan([_alb({})])
}

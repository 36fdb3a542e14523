# Load balancers: TLS 1.2 or newer on every TLS listener, no plain HTTP but a redirect to HTTPS, and a
# WAF web ACL on every internet-facing Application Load Balancer.
package main

import data.lib.tf

_listener_types := ["aws_lb_listener", "aws_alb_listener"]

# ELB security policies that refuse TLS 1.0 and 1.1: TLS13-1-2-*, TLS13-1-3-*, TLS-1-2-*, FS-1-2-*.
# TLS13-1-0-* and TLS13-1-1-* accept older versions, and the provider's default (an unset ssl_policy)
# is ELBSecurityPolicy-2016-08, which accepts TLS 1.0.
_modern_tls_policy(p) if regex.match(`^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)-`, p)

# ALB_001
deny_lb_listener_tls contains tf.finding("ALB_001", l, msg) if {
	some t in _listener_types
	some l in tf.resources[t]
	l.change.after.protocol in {"HTTPS", "TLS"}
	not _modern_tls_policy(object.get(l.change.after, "ssl_policy", ""))
	msg := sprintf("the %s listener accepts TLS older than 1.2 (ssl_policy %v); set ssl_policy to a TLS 1.2+ policy such as ELBSecurityPolicy-TLS13-1-2-Res-2021-06", [l.change.after.protocol, object.get(l.change.after, "ssl_policy", null)])
}

deny_lb_listener_tls contains tf.finding("ALB_001", l, msg) if {
	some t in _listener_types
	some l in tf.resources[t]
	l.change.after.protocol == "HTTP"
	not _redirects_to_https(l)
	msg := "the listener serves plain HTTP; listen on HTTPS, or make its default action a redirect to HTTPS"
}

_redirects_to_https(l) if {
	some a in l.change.after.default_action
	a.type == "redirect"
	some r in a.redirect
	r.protocol == "HTTPS"
}

# ALB_002: an Application Load Balancer facing the internet (internal unset or false) is protected by a
# web ACL: an aws_wafv2_web_acl_association whose resource_arn is the load balancer's arn, matched
# through the configuration or by the known ARN (_waf_protected, apigateway.rego).
deny_alb_waf contains tf.finding("ALB_002", lb, msg) if {
	some t in ["aws_lb", "aws_alb"]
	some lb in tf.resources[t]
	object.get(lb.change.after, "load_balancer_type", null) in {null, "application"}
	object.get(lb.change.after, "internal", null) != true
	not tf.matched(lb, _waf_protected, "arn")
	msg := "no WAF web ACL protects the internet-facing load balancer; add an aws_wafv2_web_acl_association with resource_arn = the load balancer's arn"
}

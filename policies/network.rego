# Security groups: nothing is reachable from the whole internet.
package main

import data.lib.tf

_open_cidrs := {"0.0.0.0/0", "::/0"}

# SG_001
deny_sg_open_ingress contains tf.finding("SG_001", sg, msg) if {
	some sg in tf.resources.aws_security_group
	some rule in sg.change.after.ingress
	some cidr in _cidrs(rule)
	cidr in _open_cidrs
	msg := sprintf("ingress on ports %v-%v is open to %s; allow only the security groups or CIDRs that need it", [rule.from_port, rule.to_port, cidr])
}

deny_sg_open_ingress contains tf.finding("SG_001", r, msg) if {
	some r in tf.resources.aws_security_group_rule
	r.change.after.type == "ingress"
	some cidr in _cidrs(r.change.after)
	cidr in _open_cidrs
	msg := sprintf("ingress rule is open to %s; allow only the security groups or CIDRs that need it", [cidr])
}

deny_sg_open_ingress contains tf.finding("SG_001", r, msg) if {
	some r in tf.resources.aws_vpc_security_group_ingress_rule
	some attr in ["cidr_ipv4", "cidr_ipv6"]
	cidr := r.change.after[attr]
	cidr in _open_cidrs
	msg := sprintf("ingress rule is open to %s; use referenced_security_group_id or a narrower CIDR", [cidr])
}

_cidrs(obj) := [c |
	some attr in ["cidr_blocks", "ipv6_cidr_blocks"]
	some c in obj[attr]
]

package main_test

import data.lib.fixtures as f
import data.main

_sg(cidrs, ipv6) := f.rc("aws_security_group", "db", {"ingress": [{
	"from_port": 5432,
	"to_port": 5432,
	"protocol": "tcp",
	"cidr_blocks": cidrs,
	"ipv6_cidr_blocks": ipv6,
	"security_groups": [],
}]})

test_sg_open_ingress_passes_with_private_cidr if {
	count(main.deny_sg_open_ingress) == 0 with input as f.plan([_sg(["10.0.0.0/16"], [])])
}

test_sg_open_ingress_denied_for_ipv4 if {
	f.ids(main.deny_sg_open_ingress) == {"SG_001"} with input as f.plan([_sg(["0.0.0.0/0"], [])])
}

test_sg_open_ingress_denied_for_ipv6 if {
	f.ids(main.deny_sg_open_ingress) == {"SG_001"} with input as f.plan([_sg([], ["::/0"])])
}

test_sg_open_ingress_denied_for_rule_resource if {
	r := f.rc("aws_vpc_security_group_ingress_rule", "https", {"cidr_ipv4": "0.0.0.0/0", "from_port": 443, "to_port": 443})
	f.ids(main.deny_sg_open_ingress) == {"SG_001"} with input as f.plan([r])
}

test_sg_open_ingress_ignores_egress_rules if {
	r := f.rc("aws_security_group_rule", "out", {"type": "egress", "cidr_blocks": ["0.0.0.0/0"]})
	count(main.deny_sg_open_ingress) == 0 with input as f.plan([r])
}

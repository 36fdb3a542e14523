package main_test

import data.lib.fixtures as f
import data.main

_role_policy(statement) := f.rc("aws_iam_role_policy", "deploy", {"policy": json.marshal({"Version": "2012-10-17", "Statement": statement})})

test_iam_wildcard_passes_with_scoped_statement if {
	p := _role_policy([{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::docs-dev/*"}])
	count(main.deny_iam_wildcard) == 0 with input as f.plan([p])
}

test_iam_wildcard_passes_with_star_action_on_one_resource if {
	p := _role_policy([{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::docs-dev"}])
	count(main.deny_iam_wildcard) == 0 with input as f.plan([p])
}

test_iam_wildcard_denied if {
	p := _role_policy({"Effect": "Allow", "Action": "*", "Resource": "*"})
	f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as f.plan([p])
}

test_iam_wildcard_denied_in_policy_document if {
	d := f.data_source("aws_iam_policy_document", "admin", {"statement": [{"effect": "Allow", "actions": ["*"], "resources": ["*"]}]})
	f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as f.plan([d])
}

test_iam_user_passes_with_role if {
	r := f.rc("aws_iam_role", "deploy", {"name": "gitops-deploy"})
	count(main.deny_iam_user) == 0 with input as f.plan([r])
}

test_iam_user_denied_for_access_key if {
	k := f.rc("aws_iam_access_key", "ci", {"user": "ci"})
	f.ids(main.deny_iam_user) == {"IAM_002"} with input as f.plan([k])
}

test_iam_wildcard_passes_with_scoped_managed_policy if {
	a := f.rc("aws_iam_role_policy_attachment", "ro", {"role": "deploy", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
	count(main.deny_iam_wildcard) == 0 with input as f.plan([a])
}

test_iam_wildcard_denied_for_administrator_access if {
	a := f.rc("aws_iam_role_policy_attachment", "admin", {"role": "deploy", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"})
	f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as f.plan([a])
}

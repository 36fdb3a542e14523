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

# IAM_003: a plan role only reads.

_plan_role := f.rc("aws_iam_role", "plan", {"name": "documents-plan-dev"})

_plan_role_policy(statement) := f.rc("aws_iam_role_policy", "plan", {"role": "documents-plan-dev", "policy": json.marshal({"Version": "2012-10-17", "Statement": statement})})

_allow(actions) := [{"Effect": "Allow", "Action": actions, "Resource": "*"}]

test_iam_plan_role_passes_with_read_only_actions if {
	p := _plan_role_policy(_allow(["ec2:Describe*", "s3:GetObject", "s3:ListBucket", "s3:GetBucket*", "apigateway:GET", "sts:GetCallerIdentity", "wafv2:Get*", "lambda:List*", "kms:DescribeKey", "secretsmanager:DescribeSecret"]))
	count(main.deny_iam_plan_role_write) == 0 with input as f.plan([_plan_role, p])
}

test_iam_plan_role_denied_for_writes_and_wildcards if {
	every a in ["*", "s3:*", "s3:Put*", "s3:PutObject", "s3:DeleteObject", "ec2:CreateVpc", "iam:PassRole", "sts:AssumeRole", "kms:Decrypt", "s3:*Object"] {
		f.ids(main.deny_iam_plan_role_write) == {"IAM_003"} with input as f.plan([_plan_role, _plan_role_policy(_allow(a))])
	}
}

test_iam_plan_role_denied_for_secret_values_and_invocations if {
	every a in ["secretsmanager:GetSecretValue", "secretsmanager:Get*", "SecretsManager:getsecretvalue", "lambda:InvokeFunction", "lambda:Invoke*"] {
		f.ids(main.deny_iam_plan_role_write) == {"IAM_003"} with input as f.plan([_plan_role, _plan_role_policy(_allow(a))])
	}
}

test_iam_plan_role_denied_for_not_action if {
	p := _plan_role_policy([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}])
	f.ids(main.deny_iam_plan_role_write) == {"IAM_003"} with input as f.plan([_plan_role, p])
}

test_iam_plan_role_passes_with_deny_statement if {
	p := _plan_role_policy([{"Effect": "Deny", "Action": "*", "Resource": "*"}, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])
	count(main.deny_iam_plan_role_write) == 0 with input as f.plan([_plan_role, p])
}

test_iam_plan_role_rule_ignores_other_roles if {
	r := f.rc("aws_iam_role", "deploy", {"name": "documents-deploy-dev"})
	p := f.rc("aws_iam_role_policy", "deploy", {"role": "documents-deploy-dev", "policy": json.marshal({"Statement": _allow("s3:PutObject")})})
	count(main.deny_iam_plan_role_write) == 0 with input as f.plan([r, p])
}

test_iam_plan_role_denied_by_name_prefix if {
	r := f.rc("aws_iam_role", "plan", {"name_prefix": "documents-plan-"})
	p := f.rc("aws_iam_role_policy", "plan", {"policy": json.marshal({"Statement": _allow("s3:PutObject")})})
	c := f.cfg("aws_iam_role_policy", "plan", {"role": ["aws_iam_role.plan.id", "aws_iam_role.plan"]})
	f.ids(main.deny_iam_plan_role_write) == {"IAM_003"} with input as f.plan_with_config([r, p], [c])
}

# The policy document is read during apply: its statements are in the data source, the policy
# references it.
_plan_document(actions) := f.data_source("aws_iam_policy_document", "plan", {"statement": [{"effect": null, "actions": actions, "not_actions": null, "resources": ["*"]}]})

_plan_document_refs := [f.cfg("aws_iam_role_policy", "plan", {
	"role": ["aws_iam_role.plan.name", "aws_iam_role.plan"],
	"policy": ["data.aws_iam_policy_document.plan.json", "data.aws_iam_policy_document.plan"],
})]

test_iam_plan_role_passes_with_read_only_policy_document if {
	p := f.rc("aws_iam_role_policy", "plan", {"role": "documents-plan-dev"})
	count(main.deny_iam_plan_role_write) == 0 with input as f.plan_with_config([_plan_role, p, _plan_document(["s3:GetObject", "rds:Describe*"])], _plan_document_refs)
}

test_iam_plan_role_denied_in_policy_document if {
	p := f.rc("aws_iam_role_policy", "plan", {"role": "documents-plan-dev"})
	plan := f.plan_with_config([_plan_role, p, _plan_document(["s3:GetObject", "s3:PutObject"])], _plan_document_refs)
	f.ids(main.deny_iam_plan_role_write) == {"IAM_003"} with input as plan
	{r.address | some r in main.deny_iam_plan_role_write} == {"data.aws_iam_policy_document.plan"} with input as plan
}

test_iam_plan_role_denied_in_source_policy_document if {
	p := f.rc("aws_iam_role_policy", "plan", {"role": "documents-plan-dev"})
	d := f.data_source("aws_iam_policy_document", "plan", {"statement": [], "source_policy_documents": [json.marshal({"Statement": _allow("ec2:CreateVpc")})]})
	f.ids(main.deny_iam_plan_role_write) == {"IAM_003"} with input as f.plan_with_config([_plan_role, p, d], _plan_document_refs)
}

# A customer managed policy attached to the plan role.
_attached(policy_actions) := [
	f.rc("aws_iam_policy", "plan", {"name": "documents-plan-dev", "policy": json.marshal({"Statement": _allow(policy_actions)})}),
	f.rc("aws_iam_role_policy_attachment", "plan", {"role": "documents-plan-dev"}),
]

_attached_refs := [f.cfg("aws_iam_role_policy_attachment", "plan", {"policy_arn": ["aws_iam_policy.plan.arn", "aws_iam_policy.plan"]})]

test_iam_plan_role_passes_with_read_only_attached_policy if {
	count(main.deny_iam_plan_role_write) == 0 with input as f.plan_with_config(array.concat([_plan_role], _attached(["iam:GetRole", "iam:List*"])), _attached_refs)
}

test_iam_plan_role_denied_in_attached_policy if {
	plan := f.plan_with_config(array.concat([_plan_role], _attached(["iam:GetRole", "iam:CreateRole"])), _attached_refs)
	f.ids(main.deny_iam_plan_role_write) == {"IAM_003"} with input as plan
	{r.address | some r in main.deny_iam_plan_role_write} == {"aws_iam_policy.plan"} with input as plan
}

test_iam_plan_role_denied_for_aws_managed_policy if {
	a := f.rc("aws_iam_role_policy_attachment", "ro", {"role": "documents-plan-dev", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
	f.ids(main.deny_iam_plan_role_write) == {"IAM_003"} with input as f.plan([_plan_role, a])
}

test_iam_plan_role_denied_for_release_actions if {
	every a in ["lambda:UpdateFunctionCode", "lambda:PublishVersion", "lambda:CreateAlias", "lambda:UpdateAlias", "lambda:*", "cloudwatch:PutDashboard", "cloudwatch:Put*"] {
		f.ids(main.deny_iam_plan_role_write) == {"IAM_003"} with input as f.plan([_plan_role, _plan_role_policy(_allow(a))])
	}
}

test_iam_plan_role_passes_with_function_and_dashboard_reads if {
	p := _plan_role_policy(_allow(["lambda:GetFunction", "lambda:GetAlias", "lambda:ListVersionsByFunction", "cloudwatch:DescribeAlarms", "cloudwatch:GetDashboard"]))
	count(main.deny_iam_plan_role_write) == 0 with input as f.plan([_plan_role, p])
}

# IAM_001 on deploy roles: Lambda actions by name, on the stage's function only.

_deploy_role := f.rc("aws_iam_role", "deploy", {"name": "documents-deploy-dev"})

_function_arns := ["arn:aws:lambda:eu-west-1:123456789012:function:documents-dev-api", "arn:aws:lambda:eu-west-1:123456789012:function:documents-dev-api:*"]

_release_actions := ["lambda:UpdateFunctionCode", "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:PublishVersion", "lambda:GetAlias", "lambda:CreateAlias", "lambda:UpdateAlias", "lambda:InvokeFunction"]

# The dashboard a release writes: gitops-<function>-<alias>.
_release_dashboard := "arn:aws:cloudwatch::123456789012:dashboard/gitops-documents-dev-api-*"

_deploy_policy(statement) := f.rc("aws_iam_role_policy", "deploy", {"role": "documents-deploy-dev", "policy": json.marshal({"Version": "2012-10-17", "Statement": statement})})

test_iam_deploy_role_passes_with_release_actions_on_its_function if {
	p := _deploy_policy([
		{"Effect": "Allow", "Action": _release_actions, "Resource": _function_arns},
		{"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:documents-dev-*"},
		{"Effect": "Allow", "Action": ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard"], "Resource": ["arn:aws:cloudwatch::123456789012:dashboard/documents-dev-*", "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:documents-dev-*"]},
		{"Effect": "Allow", "Action": "cloudwatch:PutDashboard", "Resource": _release_dashboard},
		{"Effect": "Allow", "Action": "lambda:Get*", "Resource": _function_arns},
	])
	count(main.deny_iam_wildcard) == 0 with input as f.plan([_deploy_role, p])
}

test_iam_deploy_role_denied_for_lambda_wildcard_actions if {
	every a in ["lambda:*", "Lambda:*", "lambda:Update*", "lambda:*Alias", "*"] {
		p := _deploy_policy([{"Effect": "Allow", "Action": a, "Resource": _function_arns}])
		f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as f.plan([_deploy_role, p])
	}
}

test_iam_deploy_role_denied_for_lambda_on_unscoped_resources if {
	every r in ["*", "arn:aws:lambda:eu-west-1:123456789012:function:*", "arn:aws:lambda:*:123456789012:function:documents-dev-api", "arn:aws:lambda:eu-west-1:123456789012:function:documents-*"] {
		p := _deploy_policy([{"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": r}])
		f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as f.plan([_deploy_role, p])
	}
}

test_iam_deploy_role_denied_for_lambda_not_resource if {
	p := _deploy_policy([{"Effect": "Allow", "Action": "lambda:GetFunction", "NotResource": _function_arns[0]}])
	f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as f.plan([_deploy_role, p])
}

test_iam_deploy_rule_ignores_other_roles if {
	r := f.rc("aws_iam_role", "fn", {"name": "documents-dev-api"})
	p := f.rc("aws_iam_role_policy", "fn", {"role": "documents-dev-api", "policy": json.marshal({"Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": _function_arns}]})})
	count(main.deny_iam_wildcard) == 0 with input as f.plan([r, p])
}

# As stacks/cicd does it: a customer managed policy rendered by a data source, attached to the role.
test_iam_deploy_role_denied_in_attached_policy_document if {
	d := f.data_source("aws_iam_policy_document", "deploy", {"statement": [{"effect": null, "actions": ["lambda:*"], "not_actions": null, "resources": _function_arns}]})
	p := f.rc("aws_iam_policy", "deploy", {"name": "documents-deploy-dev-application"})
	a := f.rc("aws_iam_role_policy_attachment", "deploy", {"role": "documents-deploy-dev"})
	cfgs := [
		f.cfg("aws_iam_policy", "deploy", {"policy": ["data.aws_iam_policy_document.deploy.json", "data.aws_iam_policy_document.deploy"]}),
		f.cfg("aws_iam_role_policy_attachment", "deploy", {"policy_arn": ["aws_iam_policy.deploy.arn", "aws_iam_policy.deploy"]}),
	]
	plan := f.plan_with_config([_deploy_role, d, p, a], cfgs)
	f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as plan
	{r.address | some r in main.deny_iam_wildcard} == {"data.aws_iam_policy_document.deploy"} with input as plan
}

# IAM_001 on deploy roles: cloudwatch:PutDashboard only on the stage's and the release's dashboards.

test_iam_deploy_role_passes_with_put_dashboard_on_named_dashboards if {
	every r in [_release_dashboard, "arn:aws:cloudwatch::123456789012:dashboard/documents-dev-platform", "arn:aws-us-gov:cloudwatch::123456789012:dashboard/documents-dev-*"] {
		p := _deploy_policy([{"Effect": "Allow", "Action": "cloudwatch:PutDashboard", "Resource": r}])
		count(main.deny_iam_wildcard) == 0 with input as f.plan([_deploy_role, p])
	}
}

test_iam_deploy_role_passes_with_cloudwatch_wildcard_on_alarms if {
	p := _deploy_policy([{"Effect": "Allow", "Action": ["cloudwatch:Put*", "cloudwatch:DescribeAlarms"], "Resource": ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:documents-dev-*", "arn:aws:sns:eu-west-1:123456789012:documents-dev-*"]}])
	count(main.deny_iam_wildcard) == 0 with input as f.plan([_deploy_role, p])
}

test_iam_deploy_role_denied_for_put_dashboard_on_wildcard_resources if {
	every r in [
		"*",
		"arn:aws:cloudwatch::123456789012:dashboard/*",
		"arn:aws:cloudwatch::123456789012:dashboard/gitops-*",
		"arn:aws:cloudwatch::123456789012:dashboard/*-dev-*",
		"arn:aws:cloudwatch::123456789012:dashboard/documents-dev*",
		"arn:aws:cloudwatch::*:dashboard/gitops-documents-dev-api-*",
		"arn:aws:cloudwatch:*:123456789012:*",
		"arn:aws:*:*:123456789012:*",
		"arn:aws:cloudwatch::123456789012:*",
	] {
		p := _deploy_policy([{"Effect": "Allow", "Action": "cloudwatch:PutDashboard", "Resource": r}])
		f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as f.plan([_deploy_role, p])
	}
}

test_iam_deploy_role_denied_for_actions_covering_put_dashboard_on_wildcard if {
	every a in ["cloudwatch:*", "cloudwatch:Put*", "CloudWatch:putdashboard", "*"] {
		p := _deploy_policy([{"Effect": "Allow", "Action": a, "Resource": "arn:aws:cloudwatch::123456789012:dashboard/*"}])
		f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as f.plan([_deploy_role, p])
	}
}

test_iam_deploy_role_denied_for_put_dashboard_not_resource if {
	p := _deploy_policy([{"Effect": "Allow", "Action": "cloudwatch:PutDashboard", "NotResource": _release_dashboard}])
	f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as f.plan([_deploy_role, p])
}

test_iam_dashboard_rule_ignores_other_roles if {
	r := f.rc("aws_iam_role", "ops", {"name": "documents-ops"})
	p := f.rc("aws_iam_role_policy", "ops", {"role": "documents-ops", "policy": json.marshal({"Statement": [{"Effect": "Allow", "Action": "cloudwatch:PutDashboard", "Resource": "*"}]})})
	count(main.deny_iam_wildcard) == 0 with input as f.plan([r, p])
}

# As stacks/cicd renders it: the application policy document attached to the stage's deploy role.
test_iam_deploy_role_denied_for_put_dashboard_wildcard_in_attached_policy_document if {
	d := f.data_source("aws_iam_policy_document", "deploy", {"statement": [{"effect": null, "actions": ["cloudwatch:PutDashboard"], "not_actions": null, "resources": ["arn:aws:cloudwatch::123456789012:dashboard/*"]}]})
	p := f.rc("aws_iam_policy", "deploy", {"name": "documents-deploy-dev-application"})
	a := f.rc("aws_iam_role_policy_attachment", "deploy", {"role": "documents-deploy-dev"})
	cfgs := [
		f.cfg("aws_iam_policy", "deploy", {"policy": ["data.aws_iam_policy_document.deploy.json", "data.aws_iam_policy_document.deploy"]}),
		f.cfg("aws_iam_role_policy_attachment", "deploy", {"policy_arn": ["aws_iam_policy.deploy.arn", "aws_iam_policy.deploy"]}),
	]
	plan := f.plan_with_config([_deploy_role, d, p, a], cfgs)
	f.ids(main.deny_iam_wildcard) == {"IAM_001"} with input as plan
	{r.address | some r in main.deny_iam_wildcard} == {"data.aws_iam_policy_document.deploy"} with input as plan
}

# A statement granted by several resources (the same policy for every service and stage) is checked once
# and reported on each of them.
test_iam_role_statement_shared_by_policies_is_reported_on_each if {
	s := [{"Effect": "Allow", "Action": "lambda:*", "Resource": _function_arns}]
	p1 := _deploy_policy(s)
	p2 := object.union(_deploy_policy(s), {"address": "aws_iam_role_policy.deploy_2", "name": "deploy_2"})
	{r.address | some r in main.deny_iam_wildcard} == {p1.address, p2.address} with input as f.plan([_deploy_role, p1, p2])
	w1 := _plan_role_policy(_allow(["s3:PutObject"]))
	w2 := object.union(w1, {"address": "aws_iam_role_policy.plan_2", "name": "plan_2"})
	{r.address | some r in main.deny_iam_plan_role_write} == {w1.address, w2.address} with input as f.plan([_plan_role, w1, w2])
}

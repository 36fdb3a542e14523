# IAM: least privilege, and roles only: no IAM users or long-lived access keys (CI/CD assumes roles
# through OIDC).
package main

import data.lib.tf

_policy_attrs := {
	"aws_iam_policy": "policy",
	"aws_iam_role_policy": "policy",
	"aws_iam_group_policy": "policy",
	"aws_iam_user_policy": "policy",
}

# IAM_001
deny_iam_wildcard contains tf.finding("IAM_001", rc, msg) if {
	some t, attr in _policy_attrs
	some rc in tf.resources[t]
	is_string(rc.change.after[attr])
	doc := json.unmarshal(rc.change.after[attr])
	some s in tf.as_array(doc.Statement)
	object.get(s, "Effect", "Allow") == "Allow"
	"*" in tf.as_array(object.get(s, "Action", []))
	"*" in tf.as_array(object.get(s, "Resource", []))
	msg := "a statement allows every action (\"*\") on every resource (\"*\"); list the actions and resources the role needs"
}

deny_iam_wildcard contains tf.finding("IAM_001", rc, msg) if {
	some rc in tf.data_sources.aws_iam_policy_document
	some s in rc.change.after.statement
	s.effect in {"Allow", null}
	"*" in tf.as_array(s.actions)
	"*" in tf.as_array(s.resources)
	msg := "a statement allows every action (\"*\") on every resource (\"*\"); list the actions and resources the role needs"
}

# AWS managed policies that allow every action on every resource.
_admin_policies := {"AdministratorAccess"}

deny_iam_wildcard contains tf.finding("IAM_001", rc, msg) if {
	some t in ["aws_iam_role_policy_attachment", "aws_iam_policy_attachment", "aws_iam_group_policy_attachment"]
	some rc in tf.resources[t]
	is_string(rc.change.after.policy_arn)
	regex.match(`^arn:aws[a-z-]*:iam::aws:policy/`, rc.change.after.policy_arn)
	some name in _admin_policies
	endswith(rc.change.after.policy_arn, sprintf("/%s", [name]))
	msg := sprintf("attaches %s, which allows every action on every resource; attach a policy that lists the actions and resources the role needs", [rc.change.after.policy_arn])
}

_user_types := {
	"aws_iam_user",
	"aws_iam_access_key",
	"aws_iam_user_login_profile",
	"aws_iam_user_policy",
	"aws_iam_user_policy_attachment",
	"aws_iam_user_group_membership",
	"aws_iam_service_specific_credential",
}

# IAM_002
deny_iam_user contains tf.finding("IAM_002", rc, msg) if {
	some t in _user_types
	some rc in tf.resources[t]
	msg := sprintf("%s creates an IAM user or long-lived credential; use an aws_iam_role assumed through OIDC (CI/CD) or by the service instead", [t])
}

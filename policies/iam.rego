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

# IAM_003: a plan role only reads. Merge request plans and drift checks run `terraform plan` with the
# stage's plan role (plan_role_arn), i.e. untrusted code, with -lock=false: it needs no write at all.
# A role is a plan role when its name (or name_prefix) matches "*-plan-*", as stacks/cicd names them
# (<project>-plan-<stage>). Its policies are its aws_iam_role_policy resources, the aws_iam_policy
# resources an aws_iam_role_policy_attachment or aws_iam_policy_attachment attaches to it, its
# inline_policy blocks, and the aws_iam_policy_document data sources feeding any of them (with the
# documents in their source/override_policy_documents, one level down): matched through the plan's
# configuration references, or by name. Read-only means an action whose name after the service prefix
# starts with Describe, Get, List or Head (s3:GetObject reads), or sts:GetCallerIdentity; "*",
# "service:*", "service:Put*" and NotAction are writes. Even read-only-looking, an action covering
# secretsmanager:GetSecretValue (reads secrets) or lambda:InvokeFunction (runs code) is denied. An AWS
# managed policy cannot be checked in the plan, so attaching one to a plan role is denied too.
deny_iam_plan_role_write contains tf.finding("IAM_003", rc, msg) if {
	some [rc, s] in _plan_allows
	some a in s.actions
	reasons := _plan_action_problems(a)
	count(reasons) > 0
	msg := sprintf("a plan role (named *-plan-*) may call %s, which %s; allow only Describe*, Get*, List*, Head* actions (and sts:GetCallerIdentity), never secret values or invocations: merge request plans run untrusted code with this role", [a, concat(" and ", reasons)])
}

deny_iam_plan_role_write contains tf.finding("IAM_003", rc, msg) if {
	some [rc, s] in _plan_allows
	s.not_action
	msg := "a statement of a plan role (named *-plan-*) allows NotAction, i.e. every other action, writes included; list the read-only actions in Action instead"
}

deny_iam_plan_role_write contains tf.finding("IAM_003", rc, msg) if {
	some [rc, arn] in _plan_managed_arns
	regex.match(`^arn:aws[a-z-]*:iam::aws:policy/`, arn)
	msg := sprintf("attaches the AWS managed policy %s to a plan role (named *-plan-*), whose actions the plan does not show, so they cannot be checked as read-only; attach a customer managed or inline policy listing the read-only actions", [arn])
}

# Actions a plan role must not have even when their name reads like a read.
_plan_role_forbidden := [
	["secretsmanager:GetSecretValue", "reads secret values"],
	["lambda:InvokeFunction", "runs code"],
]

_read_verbs := ["describe", "get", "list", "head"]

# _plan_action_problems lists what is wrong with action a in a plan role: empty when a only reads.
_plan_action_problems(a) := array.concat(
	[r | not _read_only(a); r := "is not read-only"],
	[r |
		some [f, why] in _plan_role_forbidden
		glob.match(lower(a), [], lower(f))
		r := sprintf("allows %s (%s)", [f, why])
	],
)

_read_only(a) if lower(a) == "sts:getcalleridentity"

_read_only(a) if {
	parts := split(lower(a), ":")
	count(parts) == 2
	some v in _read_verbs
	startswith(parts[1], v)
}

_plan_roles contains rc if {
	some rc in tf.resources.aws_iam_role
	some attr in ["name", "name_prefix"]
	is_string(rc.change.after[attr])
	glob.match("*-plan-*", [], rc.change.after[attr])
}

# What a policy's role argument may name a plan role by: its configuration key or its known name.
_plan_role_ids contains tf.key(rc) if some rc in _plan_roles

_plan_role_ids contains concat("", ["name:", rc.change.after.name]) if {
	some rc in _plan_roles
	is_string(rc.change.after.name)
}

_plan_attachments contains att if {
	some att in tf.resources.aws_iam_role_policy_attachment
	some t in tf.targets(att, "role")
	t in _plan_role_ids
}

_plan_attachments contains att if {
	some att in tf.resources.aws_iam_policy_attachment
	some t in _roles_targets(att)
	t in _plan_role_ids
}

# _roles_targets is what the roles list of an aws_iam_policy_attachment points at, as tf.targets.
_roles_targets(att) := tf.refs(att, "roles") | {concat("", ["name:", r]) |
	some r in object.get(att.change.after, "roles", [])
	is_string(r)
}

# _plan_managed_arns holds [rc, arn] for each known policy ARN attached to a plan role.
_plan_managed_arns contains [att, att.change.after.policy_arn] if {
	some att in _plan_attachments
	is_string(att.change.after.policy_arn)
}

_plan_managed_arns contains [rc, arn] if {
	some rc in _plan_roles
	some arn in object.get(rc.change.after, "managed_policy_arns", [])
	is_string(arn)
}

_plan_attached_policies contains t if {
	some att in _plan_attachments
	some t in tf.targets(att, "policy_arn")
}

_plan_attached_policies contains t if {
	some rc in _plan_roles
	some t in tf.refs(rc, "managed_policy_arns")
}

# _plan_policies are the aws_iam_role_policy and aws_iam_policy resources that grant a plan role.
_plan_policies contains rc if {
	some rc in tf.resources.aws_iam_role_policy
	some t in tf.targets(rc, "role")
	t in _plan_role_ids
}

_plan_policies contains rc if {
	some rc in tf.resources.aws_iam_policy
	tf.matched(rc, _plan_attached_policies, "arn")
}

# The aws_iam_policy_document data sources read during apply that feed a plan role's policies, and those
# feeding them through source_policy_documents or override_policy_documents.
_plan_documents_direct contains r if {
	some rc in _plan_policies
	some r in tf.refs(rc, "policy")
}

_plan_documents_direct contains r if {
	some rc in _plan_roles
	some r in tf.block_refs(rc, "inline_policy", "policy")
}

_plan_documents contains r if some r in _plan_documents_direct

_plan_documents contains r if {
	some d in tf.data_sources.aws_iam_policy_document
	tf.key(d) in _plan_documents_direct
	some attr in _merged_documents
	some r in tf.refs(d, attr)
}

_merged_documents := ["source_policy_documents", "override_policy_documents", "source_json", "override_json"]

# _plan_allows holds [rc, statement] for every Allow statement that applies to a plan role, from the
# policy JSON when it is known at plan time, else from the data source rendering it; a statement is
# {"actions": [...], "not_action": bool}.
_plan_allows contains [rc, s] if {
	some rc in _plan_policies
	some s in _json_allows(rc.change.after.policy)
}

_plan_allows contains [rc, s] if {
	some rc in _plan_roles
	some p in object.get(rc.change.after, "inline_policy", [])
	some s in _json_allows(p.policy)
}

_plan_allows contains [d, s] if {
	some d in tf.data_sources.aws_iam_policy_document
	tf.key(d) in _plan_documents
	some st in object.get(d.change.after, "statement", [])
	st.effect in {"Allow", null}
	s := {
		"actions": [a | some a in tf.as_array(st.actions); is_string(a)],
		"not_action": count([a | some a in tf.as_array(st.not_actions); is_string(a)]) > 0,
	}
}

_plan_allows contains [d, s] if {
	some d in tf.data_sources.aws_iam_policy_document
	tf.key(d) in _plan_documents
	some attr in _merged_documents
	some p in tf.as_array(object.get(d.change.after, attr, null))
	some s in _json_allows(p)
}

# _json_allows lists the Allow statements of a policy document given as JSON; none when it is unknown.
_json_allows(policy) := [s |
	is_string(policy)
	doc := json.unmarshal(policy)
	some st in tf.as_array(doc.Statement)
	object.get(st, "Effect", "Allow") == "Allow"
	s := {
		"actions": [a | some a in tf.as_array(object.get(st, "Action", [])); is_string(a)],
		"not_action": "NotAction" in object.keys(st),
	}
]

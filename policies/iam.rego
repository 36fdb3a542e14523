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
# Each policy document is parsed once, by _json_allows, for this rule and for the roles' rules below.
deny_iam_wildcard contains tf.finding("IAM_001", rc, msg) if {
	some t, attr in _policy_attrs
	some rc in tf.resources[t]
	_json_allows_everything(rc.change.after[attr])
	msg := "a statement allows every action (\"*\") on every resource (\"*\"); list the actions and resources the role needs"
}

deny_iam_wildcard contains tf.finding("IAM_001", rc, msg) if {
	some rc in tf.data_sources.aws_iam_policy_document
	_statements_allow_everything(rc.change.after.statement)
	msg := "a statement allows every action (\"*\") on every resource (\"*\"); list the actions and resources the role needs"
}

# These two are functions of the policy (its JSON, or a document's statement blocks) alone, so that a
# policy a plan repeats (one per service and stage) is checked once; false rather than undefined, so
# that either answer is remembered.
_json_allows_everything(policy) if {
	some s in _json_allows(policy)
	"*" in s.actions
	"*" in s.resources
} else := false

_statements_allow_everything(statements) if {
	some s in statements
	s.effect in {"Allow", null}
	"*" in tf.as_array(s.actions)
	"*" in tf.as_array(s.resources)
} else := false

# A deploy role (named "*-deploy-*") lists its Lambda actions by name, on named functions: no action
# pattern covering a Lambda write (lambda:*, lambda:Update*, "*"), and no Lambda action on "*", a
# function name pattern or NotResource. Its roles, statements and documents are found as IAM_003's.
deny_iam_wildcard contains tf.finding("IAM_001", rc, msg) if {
	some a, covered in _lambda_covers
	some s in _deploy_uses[a]
	some rc in _granting[["deploy", s]]
	msg := sprintf("a deploy role (named *-deploy-*) may call %s, which covers %s; list the Lambda actions the stacks and the release need by name", [a, concat(", ", covered)])
}

deny_iam_wildcard contains tf.finding("IAM_001", rc, msg) if {
	some a in _deploy_actions
	_lambda_action(a)
	some s in _deploy_uses[a]
	some r in _unscoped_function_resources(s)
	some rc in _granting[["deploy", s]]
	msg := sprintf("a deploy role (named *-deploy-*) may call %s on %s; grant Lambda actions only on the stage's function ARN and its qualified ARNs (function:NAME, function:NAME:*)", [a, r])
}

# The deploy roles' rules classify each distinct action once (a plan repeats the same few hundred
# actions in thousands of statements), then reach the statements naming it through _deploy_uses, and
# the resources granting a statement through _granting.
_deploy_actions := {a |
	some s in _statements.deploy
	some a in s.actions
}

# _lambda_covers[a] is the Lambda writes the action pattern a covers, for each deploy action that
# covers one.
_lambda_covers := {a: covered |
	some a in _deploy_actions
	contains(a, "*")
	pattern := lower(a)
	covered := [w | some [w, lw] in _lambda_writes_lower; glob.match(pattern, [], lw)]
	count(covered) > 0
}

# _deploy_uses[a] is each deploy statement allowing action a, for the actions the rules flag (an index
# built in one pass, as _kinds_by_role_id).
_deploy_uses := {a: uses |
	some a in _flagged_deploy_actions
	uses := {s |
		some s in _statements.deploy
		some a2 in s.actions
		a2 == a
	}
}

_flagged_deploy_actions contains a if some a, _ in _lambda_covers

_flagged_deploy_actions contains a if {
	some a in _deploy_actions
	_lambda_action(a)
}

_flagged_deploy_actions contains a if {
	some a in _deploy_actions
	_dashboard_action(a)
}

# Lambda writes an action pattern of a deploy role must not cover (what a release or Terraform could
# abuse on any function: code, versions, aliases, permissions, invocation).
_lambda_writes := [
	"lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion",
	"lambda:CreateAlias", "lambda:UpdateAlias", "lambda:DeleteAlias", "lambda:CreateFunction",
	"lambda:DeleteFunction", "lambda:AddPermission", "lambda:InvokeFunction", "lambda:CreateFunctionUrlConfig",
]

_lambda_writes_lower := [[w, lower(w)] | some w in _lambda_writes]

_lambda_action(a) if startswith(lower(a), "lambda:")

_lambda_action("*")

# _unscoped_function_resources lists what a statement grants beyond named functions.
_unscoped_function_resources(s) := array.concat(
	[r | some r in s.resources; not regex.match(`^arn:aws[a-z-]*:lambda:[^:*]+:[^:*]+:function:[^:*]+(:[^:]+)?$`, r)],
	[r | s.not_resource; r := "NotResource"],
)

# A deploy role writes only its stage's dashboards: an action covering cloudwatch:PutDashboard
# (cloudwatch:PutDashboard, cloudwatch:Put*, cloudwatch:*, "*") only on dashboard ARNs naming one dashboard
# or a prefix of at least two words ending in "-*" (dashboard/<project>-<stage>-* for Terraform,
# dashboard/gitops-<function>-* for a release), never on "*", dashboard/*, a wildcard account or
# NotResource. Regional ARNs and other services' ARNs cannot name a dashboard and are left alone.
deny_iam_wildcard contains tf.finding("IAM_001", rc, msg) if {
	some a in _deploy_actions
	_dashboard_action(a)
	some s in _deploy_uses[a]
	some r in _unscoped_dashboard_resources(s)
	some rc in _granting[["deploy", s]]
	msg := sprintf("a deploy role (named *-deploy-*) may call %s on %s, which covers other stages' or functions' dashboards; grant cloudwatch:PutDashboard only on dashboard/<project>-<stage>-* and the release's dashboard/gitops-<function>-*", [a, r])
}

_dashboard_action(a) if glob.match(lower(a), [], "cloudwatch:putdashboard")

# _unscoped_dashboard_resources lists what a statement grants that may name a dashboard beyond a scoped
# dashboard ARN.
_unscoped_dashboard_resources(s) := array.concat(
	[r | some r in s.resources; not _not_dashboard(r); not _scoped_dashboard(r)],
	[r | s.not_resource; r := "NotResource"],
)

_scoped_dashboard(r) if regex.match(`^arn:aws[a-z-]*:cloudwatch::[0-9]{12}:dashboard/([A-Za-z0-9_-]+|[A-Za-z0-9_]+(-[A-Za-z0-9_]+)+-\*)$`, r)

# Dashboard ARNs are global (no region): an ARN of another service, or with a region, names none.
_not_dashboard(r) if {
	parts := split(r, ":")
	count(parts) >= 6
	parts[0] == "arn"
	not regex.match(`[*?]`, parts[2])
	lower(parts[2]) != "cloudwatch"
}

_not_dashboard(r) if {
	parts := split(r, ":")
	count(parts) >= 6
	parts[0] == "arn"
	regex.match(`^[^*?]+$`, parts[3])
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
	some s in _statements.plan
	some a in s.actions
	reasons := _plan_problems[a]
	some rc in _granting[["plan", s]]
	msg := sprintf("a plan role (named *-plan-*) may call %s, which %s; allow only Describe*, Get*, List*, Head* actions (and sts:GetCallerIdentity), never secret values or invocations: merge request plans run untrusted code with this role", [a, concat(" and ", reasons)])
}

deny_iam_plan_role_write contains tf.finding("IAM_003", rc, msg) if {
	some s in _statements.plan
	s.not_action
	some rc in _granting[["plan", s]]
	msg := "a statement of a plan role (named *-plan-*) allows NotAction, i.e. every other action, writes included; list the read-only actions in Action instead"
}

deny_iam_plan_role_write contains tf.finding("IAM_003", rc, msg) if {
	some [rc, arn] in _plan_managed_arns
	regex.match(`^arn:aws[a-z-]*:iam::aws:policy/`, arn)
	msg := sprintf("attaches the AWS managed policy %s to a plan role (named *-plan-*), whose actions the plan does not show, so they cannot be checked as read-only; attach a customer managed or inline policy listing the read-only actions", [arn])
}

# _plan_problems[a] is what is wrong with each distinct action of the plan roles that is not read-only:
# each classified once.
_plan_problems := {a: reasons |
	some a in {a | some s in _statements.plan; some a in s.actions}
	reasons := _plan_action_problems(a)
	count(reasons) > 0
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

# What the rules below check roles by: a plan role is named "*-plan-*", a deploy role "*-deploy-*"
# (stacks/cicd names them <project>-plan-<stage> and <project>-deploy-<stage>).
_role_kinds := {"plan": "*-plan-*", "deploy": "*-deploy-*"}

# _roles holds [kind, rc] for each aws_iam_role whose name (or name_prefix) matches a kind.
_roles contains [k, rc] if {
	some rc in tf.resources.aws_iam_role
	some attr in ["name", "name_prefix"]
	is_string(rc.change.after[attr])
	some k, pattern in _role_kinds
	glob.match(pattern, [], rc.change.after[attr])
}

# What a policy's role argument may name a role by: its configuration key or its known name.
_role_ids contains [k, tf.key(rc)] if some [k, rc] in _roles

_role_ids contains [k, concat("", ["name:", rc.change.after.name])] if {
	some [k, rc] in _roles
	is_string(rc.change.after.name)
}

# _kinds_by_role_id[id] is the kinds of the roles id names: an index, so that matching a resource to its
# role is one lookup, not a pass over every role (which made the check quadratic in the plan's size).
# It is built whole, each entry by one indexed pass (OPA's comprehension indexing), as lib.tf's groupings:
# a partial rule would be evaluated again, over every role, for each id looked up.
_kinds_by_role_id := {id: kinds |
	some id in {id | some [_, id] in _role_ids}
	kinds := {k |
		some [k, id2] in _role_ids
		id2 == id
	}
}

_attachments contains [k, att] if {
	some att in tf.resources.aws_iam_role_policy_attachment
	some t in tf.targets(att, "role")
	some k in _kinds_by_role_id[t]
}

_attachments contains [k, att] if {
	some att in tf.resources.aws_iam_policy_attachment
	some t in _roles_targets(att)
	some k in _kinds_by_role_id[t]
}

# _roles_targets is what the roles list of an aws_iam_policy_attachment points at, as tf.targets.
_roles_targets(att) := tf.refs(att, "roles") | {concat("", ["name:", r]) |
	some r in object.get(att.change.after, "roles", [])
	is_string(r)
}

# _plan_managed_arns holds [rc, arn] for each known policy ARN attached to a plan role.
_plan_managed_arns contains [att, att.change.after.policy_arn] if {
	some [k, att] in _attachments
	k == "plan"
	is_string(att.change.after.policy_arn)
}

_plan_managed_arns contains [rc, arn] if {
	some [k, rc] in _roles
	k == "plan"
	some arn in object.get(rc.change.after, "managed_policy_arns", [])
	is_string(arn)
}

_attached_policies contains [k, t] if {
	some [k, att] in _attachments
	some t in tf.targets(att, "policy_arn")
}

_attached_policies contains [k, t] if {
	some [k, rc] in _roles
	some t in tf.refs(rc, "managed_policy_arns")
}

_attached_policy_keys[k] contains t if some [k, t] in _attached_policies

# _policies holds [kind, rc] for the aws_iam_role_policy and aws_iam_policy resources granting a role.
_policies contains [k, rc] if {
	some rc in tf.resources.aws_iam_role_policy
	some t in tf.targets(rc, "role")
	some k in _kinds_by_role_id[t]
}

_policies contains [k, rc] if {
	some rc in tf.resources.aws_iam_policy
	some k, keys in _attached_policy_keys
	tf.matched(rc, keys, "arn")
}

# The aws_iam_policy_document data sources read during apply that feed a role's policies, and those
# feeding them through source_policy_documents or override_policy_documents.
_documents_direct contains [k, r] if {
	some [k, rc] in _policies
	some r in tf.refs(rc, "policy")
}

_documents_direct contains [k, r] if {
	some [k, rc] in _roles
	some r in tf.block_refs(rc, "inline_policy", "policy")
}

_documents contains [k, r] if some [k, r] in _documents_direct

_documents contains [k, r] if {
	some d in tf.data_sources.aws_iam_policy_document
	some k in _direct_kinds[tf.key(d)]
	some attr in _merged_documents
	some r in tf.refs(d, attr)
}

# _direct_kinds[r] and _document_kinds[r] are the kinds of the roles that the document r feeds (directly,
# and directly or not): indexes, as _kinds_by_role_id.
_direct_kinds := {r: kinds |
	some r in {r | some [_, r] in _documents_direct}
	kinds := {k |
		some [k, r2] in _documents_direct
		r2 == r
	}
}

_document_kinds := {r: kinds |
	some r in {r | some [_, r] in _documents}
	kinds := {k |
		some [k, r2] in _documents
		r2 == r
	}
}

_merged_documents := ["source_policy_documents", "override_policy_documents", "source_json", "override_json"]

# _allows holds [kind, rc, statement] for every Allow statement that applies to a role of that kind,
# from the policy JSON when it is known at plan time, else from the data source rendering it; a
# statement is {"actions": [...], "not_action": bool, "resources": [...], "not_resource": bool}, with
# only the known strings.
_allows contains [k, rc, s] if {
	some [k, rc] in _policies
	some s in _json_allows(rc.change.after.policy)
}

_allows contains [k, rc, s] if {
	some [k, rc] in _roles
	some p in object.get(rc.change.after, "inline_policy", [])
	some s in _json_allows(p.policy)
}

_allows contains [k, d, s] if {
	some d in tf.data_sources.aws_iam_policy_document
	some k in _document_kinds[tf.key(d)]
	some s in _document_allows(object.get(d.change.after, "statement", []))
}

_allows contains [k, d, s] if {
	some d in tf.data_sources.aws_iam_policy_document
	some k in _document_kinds[tf.key(d)]
	some attr in _merged_documents
	some p in tf.as_array(object.get(d.change.after, attr, null))
	some s in _json_allows(p)
}

# _statements[k] holds each distinct statement of the roles of kind k: every stage and service of a
# plan tends to grant the same ones, so the rules check each once. _granting[[k, s]] is the resources
# that grant a role of kind k the statement s (policies, roles with an inline policy, policy
# documents); it is built when a rule first fires, in one indexed pass.
_statements := {k: statements |
	some k, _ in _role_kinds
	statements := {s |
		some [k2, _, s] in _allows
		k2 == k
	}
}

_granting := {[k, s]: rcs |
	some k, statements in _statements
	some s in statements
	rcs := {rc |
		some [k2, rc, s2] in _allows
		k2 == k
		s2 == s
	}
}

_strings(x) := [v | some v in tf.as_array(x); is_string(v)]

# _document_allows lists the Allow statements of a policy document data source's statement blocks, as
# _json_allows does for JSON: a function of the blocks, so that a document a plan repeats is read once.
_document_allows(statements) := [s |
	some st in statements
	st.effect in {"Allow", null}
	s := {
		"actions": _strings(st.actions),
		"not_action": count(_strings(st.not_actions)) > 0,
		"resources": _strings(object.get(st, "resources", [])),
		"not_resource": count(_strings(object.get(st, "not_resources", []))) > 0,
	}
]

# _json_allows lists the Allow statements of a policy document given as JSON; none when it is unknown.
_json_allows(policy) := [s |
	is_string(policy)
	doc := json.unmarshal(policy)
	some st in tf.as_array(doc.Statement)
	object.get(st, "Effect", "Allow") == "Allow"
	s := {
		"actions": _strings(object.get(st, "Action", [])),
		"not_action": "NotAction" in object.keys(st),
		"resources": _strings(object.get(st, "Resource", [])),
		"not_resource": "NotResource" in object.keys(st),
	}
]

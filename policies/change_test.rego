package main_test

import data.lib.fixtures as f
import data.main

_bucket_change(actions) := f.with_actions(f.rc("aws_s3_bucket", "docs", {"bucket": "docs"}), actions)

test_stateful_destroy_passes_for_updates if {
	count(main.deny_stateful_destroy) == 0 with input as f.plan([_bucket_change(["update"])])
}

test_stateful_destroy_passes_for_stateless_deletes if {
	r := f.with_actions(f.rc("aws_lambda_alias", "live", {}), ["delete"])
	count(main.deny_stateful_destroy) == 0 with input as f.plan([r])
}

test_stateful_destroy_denied_for_delete if {
	f.ids(main.deny_stateful_destroy) == {"CHANGE_001"} with input as f.plan([_bucket_change(["delete"])])
}

test_stateful_destroy_denied_for_replace if {
	f.ids(main.deny_stateful_destroy) == {"CHANGE_001"} with input as f.plan([_bucket_change(["delete", "create"])])
}

test_stateful_destroy_allowed_by_label if {
	count(main.deny_stateful_destroy) == 0 with input as f.plan([_bucket_change(["delete"])]) with data.gitops as f.context("dev", ["allow-destroy"])
}

test_prod_replace_warns if {
	f.ids(main.warn_prod_replace) == {"CHANGE_002"} with input as f.plan([_bucket_change(["create", "delete"])]) with data.gitops as f.context("prod", [])
}

test_prod_replace_silent_outside_prod if {
	count(main.warn_prod_replace) == 0 with input as f.plan([_bucket_change(["delete", "create"])]) with data.gitops as f.context("staging", [])
}

test_prod_replace_silent_for_updates if {
	count(main.warn_prod_replace) == 0 with input as f.plan([_bucket_change(["update"])]) with data.gitops as f.context("prod", [])
}

_reviewed(stage, matches) := object.union(f.context(stage, []), {"plan_matches_review": matches})

test_unreviewed_prod_denied if {
	f.ids(main.deny_unreviewed_prod) == {"CHANGE_003"} with input as f.plan([_bucket_change(["update"])]) with data.gitops as _reviewed("prod", false)
}

test_reviewed_prod_passes if {
	count(main.deny_unreviewed_prod) == 0 with input as f.plan([_bucket_change(["update"])]) with data.gitops as _reviewed("prod", true)
}

test_unreviewed_outside_prod_passes if {
	count(main.deny_unreviewed_prod) == 0 with input as f.plan([_bucket_change(["update"])]) with data.gitops as _reviewed("staging", false)
}

test_review_unknown_at_plan_time_passes if {
	count(main.deny_unreviewed_prod) == 0 with input as f.plan([_bucket_change(["update"])]) with data.gitops as f.context("prod", [])
}

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

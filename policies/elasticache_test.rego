package main_test

import data.lib.fixtures as f
import data.main

_cache(over) := f.with_unknown(
	f.rc("aws_elasticache_replication_group", "cache", object.union(
		{
			"engine": "redis",
			"transit_encryption_enabled": true,
			"at_rest_encryption_enabled": "true",
			"automatic_failover_enabled": true,
			"multi_az_enabled": true,
			"num_cache_clusters": 2,
		},
		over,
	)),
	{"auth_token": true},
)

test_elasticache_transit_encryption_passes if {
	count(main.deny_elasticache_transit_encryption) == 0 with input as f.plan([_cache({})])
}

test_elasticache_transit_encryption_denied if {
	f.ids(main.deny_elasticache_transit_encryption) == {"ELASTICACHE_001"} with input as f.plan([_cache({"transit_encryption_enabled": false})])
}

test_elasticache_at_rest_encryption_passes_with_bool if {
	count(main.deny_elasticache_at_rest_encryption) == 0 with input as f.plan([_cache({"at_rest_encryption_enabled": true})])
}

test_elasticache_at_rest_encryption_denied if {
	f.ids(main.deny_elasticache_at_rest_encryption) == {"ELASTICACHE_002"} with input as f.plan([_cache({"at_rest_encryption_enabled": "false"})])
}

test_elasticache_auth_passes_with_user_groups if {
	g := f.rc("aws_elasticache_replication_group", "cache", {"user_group_ids": ["app"]})
	count(main.deny_elasticache_auth) == 0 with input as f.plan([g])
}

test_elasticache_auth_denied if {
	g := f.rc("aws_elasticache_replication_group", "cache", {"auth_token": null, "user_group_ids": []})
	f.ids(main.deny_elasticache_auth) == {"ELASTICACHE_003"} with input as f.plan([g])
}

test_elasticache_failover_passes_in_prod if {
	count(main.deny_elasticache_failover) == 0 with input as f.plan([_cache({})]) with data.gitops as f.context("prod", [])
}

test_elasticache_failover_denied_in_prod if {
	f.ids(main.deny_elasticache_failover) == {"ELASTICACHE_004"} with input as f.plan([_cache({"automatic_failover_enabled": false})]) with data.gitops as f.context("prod", [])
}

test_elasticache_failover_not_required_in_dev if {
	count(main.deny_elasticache_failover) == 0 with input as f.plan([_cache({"automatic_failover_enabled": false})]) with data.gitops as f.context("dev", [])
}

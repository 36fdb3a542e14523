package main_test

import data.lib.fixtures as f
import data.main

_fn(over) := f.rc("aws_lambda_function", "api", object.union(
	{
		"function_name": "documents-api-dev",
		"vpc_config": [{"subnet_ids": ["subnet-1", "subnet-2"], "security_group_ids": ["sg-1"]}],
		"tracing_config": [{"mode": "Active"}],
	},
	over,
))

_log_group(name, days) := f.rc("aws_cloudwatch_log_group", "api", {"name": name, "retention_in_days": days})

test_lambda_vpc_passes if {
	count(main.deny_lambda_vpc) == 0 with input as f.plan([_fn({})])
}

test_lambda_vpc_passes_with_subnets_known_after_apply if {
	fn := f.with_unknown(_fn({"vpc_config": [{"security_group_ids": ["sg-1"]}]}), {"vpc_config": [{"subnet_ids": true}]})
	count(main.deny_lambda_vpc) == 0 with input as f.plan([fn])
}

test_lambda_vpc_denied if {
	f.ids(main.deny_lambda_vpc) == {"LAMBDA_001"} with input as f.plan([_fn({"vpc_config": []})])
}

test_lambda_log_retention_passes_by_name if {
	count(main.deny_lambda_log_retention) == 0 with input as f.plan([_fn({}), _log_group("/aws/lambda/documents-api-dev", 30)])
}

test_lambda_log_retention_passes_by_reference if {
	fn := f.with_unknown(_fn({"logging_config": [{"log_format": "JSON"}]}), {"logging_config": [{"log_group": true}]})
	g := f.with_unknown(f.rc("aws_cloudwatch_log_group", "api", {"retention_in_days": 30}), {"name": true})
	cfg := object.union(f.cfg("aws_lambda_function", "api", {}), {"expressions": {"logging_config": [{"log_group": {"references": ["aws_cloudwatch_log_group.api.name", "aws_cloudwatch_log_group.api"]}}]}})
	count(main.deny_lambda_log_retention) == 0 with input as f.plan_with_config([fn, g], [cfg])
}

test_lambda_log_retention_denied_without_log_group if {
	f.ids(main.deny_lambda_log_retention) == {"LAMBDA_002"} with input as f.plan([_fn({})])
}

test_lambda_log_retention_denied_when_group_never_expires if {
	f.ids(main.deny_lambda_log_retention) == {"LAMBDA_002"} with input as f.plan([_fn({}), _log_group("/aws/lambda/documents-api-dev", 0)])
}

test_lambda_tracing_passes if {
	count(main.deny_lambda_tracing) == 0 with input as f.plan([_fn({})])
}

test_lambda_tracing_denied if {
	f.ids(main.deny_lambda_tracing) == {"LAMBDA_003"} with input as f.plan([_fn({"tracing_config": [{"mode": "PassThrough"}]})])
}

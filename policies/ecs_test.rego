package main_test

import data.lib.fixtures as f
import data.main

_task(over) := f.rc("aws_ecs_task_definition", "agent", object.union(
	{
		"family": "agent",
		"network_mode": "awsvpc",
		"pid_mode": null,
		"ipc_mode": null,
		"container_definitions": "[{\"name\":\"agent\",\"image\":\"agent:1\",\"essential\":true}]",
	},
	over,
))

test_ecs_host_access_passes if {
	count(main.deny_ecs_host_access) == 0 with input as f.plan([_task({})])
}

test_ecs_host_access_passes_with_unknown_containers if {
	t := f.with_unknown(_task({"container_definitions": null}), {"container_definitions": true})
	count(main.deny_ecs_host_access) == 0 with input as f.plan([t])
}

test_ecs_host_network_denied if {
	f.ids(main.deny_ecs_host_access) == {"ECS_001"} with input as f.plan([_task({"network_mode": "host"})])
}

test_ecs_host_pid_denied if {
	f.ids(main.deny_ecs_host_access) == {"ECS_001"} with input as f.plan([_task({"pid_mode": "host"})])
}

test_ecs_privileged_container_denied if {
	t := _task({"container_definitions": "[{\"name\":\"agent\",\"image\":\"agent:1\",\"privileged\":true}]"})
	f.ids(main.deny_ecs_host_access) == {"ECS_001"} with input as f.plan([t])
}

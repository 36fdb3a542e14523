# ECS task definitions: containers stay in their own namespaces and are never privileged.
package main

import data.lib.tf

_host_modes := ["network_mode", "pid_mode", "ipc_mode"]

# ECS_001
deny_ecs_host_access contains tf.finding("ECS_001", td, msg) if {
	some td in tf.resources.aws_ecs_task_definition
	some attr in _host_modes
	object.get(td.change.after, attr, null) == "host"
	msg := sprintf("%s is host: the tasks share the host's namespace; use awsvpc networking and the task's own pid and ipc namespaces", [attr])
}

deny_ecs_host_access contains tf.finding("ECS_001", td, msg) if {
	some td in tf.resources.aws_ecs_task_definition
	is_string(td.change.after.container_definitions)
	some c in json.unmarshal(td.change.after.container_definitions)
	object.get(c, "privileged", false) == true
	msg := sprintf("container %v is privileged; drop privileged and grant only the Linux capabilities it needs", [object.get(c, "name", "?")])
}

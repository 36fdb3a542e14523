# The agent on ECS Fargate: desired_count tasks in the private subnets of both zones, no public address,
# behind the load balancer. Each task has three containers:
#
#   secrets-init  ECS only hands secrets to a container as environment variables, while the agent reads
#                 them from files (the *_FILE settings) so that no terraform run can find them in its
#                 environment. This non-essential container receives them, writes each to a file in a
#                 task-scoped volume (umask 077) and exits 0.
#   agent         starts once secrets-init has succeeded; reads the files from the volume, read-only.
#   metrics       reads gitops_queue_depth from the admin listener every minute and prints it as a
#                 CloudWatch embedded metric format line, which CloudWatch Logs turns into a metric. It
#                 needs no credentials: the lines go out through the awslogs driver, with the execution
#                 role (a CloudWatch agent would have to write with the task role, which may only assume
#                 the stages' roles).
#
# The sandbox is "uid" mode: Fargate allows no user namespaces (bubblewrap), so every terraform run gets
# a uid of its own through setpriv, which needs the agent to run as root with SETUID and SETGID. In that
# mode a run can reach the task metadata endpoint and get the task role's credentials: Fargate cannot
# block it per container. Those credentials can only assume the stages' roles, and only with the external
# id, which the agent never passes to a run.

resource "aws_cloudwatch_log_group" "agent" {
  name              = "/ecs/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.agent.arn
}

resource "aws_ecs_cluster" "agent" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

locals {
  image = "${aws_ecr_repository.agent.repository_url}:${var.image_tag}"

  work_dir = "/var/lib/gitops"
  data_dir = "${local.work_dir}/data"

  # Docker's default capabilities the agent does not need. It keeps CHOWN, DAC_OVERRIDE and FOWNER (to
  # hand each run its work dir), KILL (to stop runs of other uids), SETUID and SETGID (setpriv).
  dropped_capabilities = ["AUDIT_WRITE", "FSETID", "MKNOD", "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETPCAP", "SYS_CHROOT"]

  allowed_roles = flatten([
    for s in var.deploy_stages : [
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-deploy-${s}",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-plan-${s}",
    ]
  ])

  # Writes every secret it receives to its file, then makes /tmp (a task volume, root's 0755 at first)
  # the sticky, world-writable directory the runs' uids expect.
  init_script = join("\n", concat(
    ["set -eu", "umask 077"],
    [for env, s in local.agent_secrets : "printf '%s' \"$${${env}}\" > ${local.secrets_dir}/${s.file}"],
    ["chmod 1777 /tmp", "exit 0"],
  ))

  metrics_script = <<-EOT
    while :; do
      depth=$(timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${local.admin_port}; printf "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3; cat <&3' 2>/dev/null | awk '$1 == "gitops_queue_depth" { v = $2 } END { if (v != "") print v }')
      if [ -n "$depth" ]; then
        printf '{"_aws":{"Timestamp":%s,"CloudWatchMetrics":[{"Namespace":"%s","Dimensions":[["Service"]],"Metrics":[{"Name":"gitops_queue_depth","Unit":"Count"}]}]},"Service":"%s","gitops_queue_depth":%s}\n' "$(date +%s%3N)" "$NAMESPACE" "$SERVICE" "$depth"
      fi
      sleep 60
    done
  EOT

  agent_environment = concat(
    [
      { name = "GITLAB_URL", value = var.gitlab_url },
      { name = "GITLAB_TOKEN_FILE", value = "${local.secrets_dir}/gitlab-token" },
      { name = "GITLAB_WEBHOOK_SECRET_FILE", value = "${local.secrets_dir}/gitlab-webhook-secret" },
      { name = "DATABASE_URL_FILE", value = "${local.secrets_dir}/database-url" },
      { name = "GITOPS_LISTEN", value = ":${local.webhook_port}" },
      # On every interface, so admin_source_cidrs can reach it; no load balancer listener or target
      # group points at it.
      { name = "GITOPS_ADMIN_LISTEN", value = ":${local.admin_port}" },
      { name = "GITOPS_SANDBOX", value = "uid" },
      { name = "GITOPS_DATA_DIR", value = local.data_dir },
      { name = "GITOPS_SANDBOX_DIR", value = "${local.work_dir}/sandbox" },
      { name = "GITOPS_ALLOWED_ROLES", value = join(",", local.allowed_roles) },
      { name = "GITOPS_SHUTDOWN_TIMEOUT", value = "${var.shutdown_timeout_seconds}s" },
      { name = "AWS_REGION", value = local.region },
      # GITOPS_REPLICA_ID is left to its default, the host name and a suffix unique to the process: a
      # fixed id would be shared by the old and the new task during a deployment, and two live replicas
      # must never claim the same name (the second would refuse to start). A killed task's unfinished
      # jobs are resumed by another replica once its heartbeat is GITOPS_DEAD_AFTER (1m) old.
    ],
    var.per_project_webhook_secrets ? [{ name = "GITOPS_WEBHOOK_SECRETS_FILE", value = "${local.secrets_dir}/webhook-secrets" }] : [],
    length(var.gitops_projects) > 0 ? [{ name = "GITOPS_PROJECTS", value = join(",", var.gitops_projects) }] : [],
  )

  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.agent.name
      awslogs-region        = local.region
      awslogs-stream-prefix = "agent"
    }
  }

  container_definitions = [
    {
      name                   = "secrets-init"
      image                  = local.image
      essential              = false
      user                   = "0"
      entryPoint             = ["/bin/sh", "-c"]
      command                = [local.init_script]
      readonlyRootFilesystem = true
      secrets                = [for env, s in local.agent_secrets : { name = env, valueFrom = aws_secretsmanager_secret.agent[env].arn }]
      mountPoints = [
        { sourceVolume = "secrets", containerPath = local.secrets_dir, readOnly = false },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      linuxParameters  = { capabilities = { drop = ["ALL"] } }
      logConfiguration = local.log_configuration
    },
    {
      name                   = "agent"
      image                  = local.image
      essential              = true
      user                   = "0"
      readonlyRootFilesystem = true
      privileged             = false
      stopTimeout            = var.shutdown_timeout_seconds + 30
      portMappings           = [{ containerPort = local.webhook_port, protocol = "tcp", name = "webhook" }]
      environment            = local.agent_environment
      secrets                = [{ name = "GITOPS_AWS_EXTERNAL_ID", valueFrom = local.external_id_parameter_arn }]
      dependsOn              = [{ containerName = "secrets-init", condition = "SUCCESS" }]
      mountPoints = [
        { sourceVolume = "secrets", containerPath = local.secrets_dir, readOnly = true },
        { sourceVolume = "work", containerPath = local.work_dir, readOnly = false },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      linuxParameters = {
        initProcessEnabled = true
        capabilities       = { drop = local.dropped_capabilities }
      }
      logConfiguration = local.log_configuration
    },
    {
      name                   = "metrics"
      image                  = local.image
      essential              = false
      user                   = "65534"
      entryPoint             = ["/bin/bash", "-c"]
      command                = [local.metrics_script]
      readonlyRootFilesystem = true
      environment = [
        { name = "NAMESPACE", value = var.metrics_namespace },
        { name = "SERVICE", value = local.name },
      ]
      dependsOn        = [{ containerName = "agent", condition = "START" }]
      linuxParameters  = { capabilities = { drop = ["ALL"] } }
      logConfiguration = local.log_configuration
    },
  ]
}

resource "aws_ecs_task_definition" "agent" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = data.aws_iam_role.agent.arn
  container_definitions    = jsonencode(local.container_definitions)

  ephemeral_storage {
    size_in_gib = var.ephemeral_storage_gib
  }

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Task-scoped volumes on the ephemeral storage: the secret files, the data and sandbox dirs, /tmp. The
  # root file system stays read-only.
  volume {
    name = "secrets"
  }

  volume {
    name = "work"
  }

  volume {
    name = "tmp"
  }
}

resource "aws_ecs_service" "agent" {
  name                               = local.name
  cluster                            = aws_ecs_cluster.agent.id
  task_definition                    = aws_ecs_task_definition.agent.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  availability_zone_rebalancing      = "ENABLED"
  health_check_grace_period_seconds  = 120
  propagate_tags                     = "SERVICE"
  enable_execute_command             = false
  wait_for_steady_state              = false
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  # New tasks start and turn healthy before old ones stop (minimum 100%): the agent deploying a new
  # version of itself keeps running until its replacement takes over. A deployment that does not turn
  # healthy rolls back.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.webhook.arn
    container_name   = "agent"
    container_port   = local.webhook_port
  }

  depends_on = [aws_lb_listener_rule.webhook, aws_iam_role_policy.execution]

  lifecycle {
    precondition {
      condition     = var.stage != "prod" || var.desired_count >= 2
      error_message = "prod needs desired_count >= 2, one task per availability zone."
    }
  }
}

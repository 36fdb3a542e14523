# What a stage's deploy role may do: apply the network, data, api and observability stacks of its stage
# (resources named <project>-<stage>..., or tagged with its Stage where names are not in ARNs), and
# release the API function: upload code, publish versions and move the alias of that one function, watch
# the stage's alarms and write the release's dashboard.

locals {
  arn_prefix = {
    for svc in ["ec2", "rds", "elasticache", "lambda", "logs", "secretsmanager", "sns", "cloudwatch", "wafv2", "kms", "acm", "ecs", "ecr", "elasticloadbalancing"] :
    svc => "arn:${local.partition}:${svc}:${local.region}:${local.account_id}"
  }

  # What refreshing the stacks' buckets reads: aws_s3_bucket reads every bucket setting (policy, ACL,
  # CORS, website, versioning, acceleration, request payment, logging, lifecycle, replication,
  # encryption, object lock, tags through S3 and S3 Control), and the ownership controls and public
  # access block resources read theirs. Bucket-level only: no object is read.
  s3_bucket_read_actions = [
    "s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketCORS",
    "s3:GetBucketWebsite", "s3:GetBucketVersioning", "s3:GetAccelerateConfiguration", "s3:GetBucketRequestPayment",
    "s3:GetBucketLogging", "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration",
    "s3:GetEncryptionConfiguration", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketOwnershipControls",
    "s3:GetBucketPublicAccessBlock", "s3:GetBucketTagging", "s3:ListTagsForResource",
  ]

  # What applying the stacks' aws_s3_bucket, _ownership_controls, _public_access_block, _versioning,
  # _server_side_encryption_configuration and _policy resources writes (deleting a setting needs its Put
  # permission), and the bucket's tags (S3 and S3 Control). No object, ACL, lifecycle, logging,
  # notification, replication or website is managed, so none of those is writable.
  s3_bucket_manage_actions = concat(local.s3_bucket_read_actions, [
    "s3:CreateBucket", "s3:DeleteBucket",
    "s3:PutBucketOwnershipControls", "s3:PutBucketPublicAccessBlock", "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
    "s3:PutBucketTagging", "s3:TagResource", "s3:UntagResource",
  ])
}

# Two documents per stage, each within the size limit of a managed policy.
data "aws_iam_policy_document" "deploy_infrastructure" {
  for_each = toset(var.deploy_stages)

  statement {
    sid       = "TerraformStateBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketVersioning"]
    resources = ["arn:${local.partition}:s3:::${lookup(var.state_buckets, each.value, "")}"]
  }

  statement {
    sid       = "TerraformStateAndLockObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["arn:${local.partition}:s3:::${lookup(var.state_buckets, each.value, "")}/*"]
  }

  statement {
    sid       = "ReadEverythingInRegion"
    actions   = ["ec2:Describe*", "rds:Describe*", "rds:ListTagsForResource", "elasticache:Describe*", "elasticache:ListTagsForResource", "kms:ListAliases", "kms:ListKeys", "logs:DescribeLogGroups", "cloudwatch:GetMetricData", "wafv2:List*", "wafv2:Get*", "acm:ListCertificates", "route53:ListHostedZones", "route53:GetChange", "apigateway:GET", "tag:GetResources"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  # EC2 networking actions barely support resource-level permissions; they are limited to the region.
  statement {
    sid = "ManageNetwork"
    actions = [
      "ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute",
      "ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute",
      "ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable",
      "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute",
      "ec2:CreateInternetGateway", "ec2:DeleteInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway",
      "ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:CreateNatGateway", "ec2:DeleteNatGateway",
      "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
      "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:ModifySecurityGroupRules",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
      "ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint",
      "ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "ec2:CreateTags", "ec2:DeleteTags",
    ]
    resources = ["${local.arn_prefix.ec2}:*"]
  }

  statement {
    sid       = "CreateStageKeys"
    actions   = ["kms:CreateKey", "kms:TagResource"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Stage"
      values   = [each.value]
    }
  }

  statement {
    sid       = "ManageStageKeys"
    actions   = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion", "kms:UpdateKeyDescription", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource", "kms:CreateGrant", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["${local.arn_prefix.kms}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Stage"
      values   = [each.value]
    }
  }

  statement {
    sid       = "ManageStageKeyAliases"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["${local.arn_prefix.kms}:alias/${var.project}-${each.value}-*"]
  }

  statement {
    sid = "ManageStageRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
      "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
      "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${var.project}-${each.value}-*"]
  }

  statement {
    sid       = "PassStageRolesToTheirServices"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${var.project}-${each.value}-*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com", "rds.amazonaws.com", "vpc-flow-logs.amazonaws.com"]
    }
  }

  statement {
    sid       = "CreateServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["rds.amazonaws.com", "elasticache.amazonaws.com", "ops.apigateway.amazonaws.com"]
    }
  }

  statement {
    sid     = "ManageStageDatabase"
    actions = ["rds:*"]
    resources = [
      "${local.arn_prefix.rds}:cluster:${var.project}-${each.value}",
      "${local.arn_prefix.rds}:db:${var.project}-${each.value}-*",
      "${local.arn_prefix.rds}:subgrp:${var.project}-${each.value}",
      "${local.arn_prefix.rds}:cluster-pg:${var.project}-${each.value}-*",
      "${local.arn_prefix.rds}:cluster-snapshot:${var.project}-${each.value}-*",
    ]
  }

  # Proxy ARNs carry generated ids, not names: the proxy is found by its Stage tag.
  statement {
    sid       = "ManageStageDatabaseProxy"
    actions   = ["rds:*"]
    resources = ["${local.arn_prefix.rds}:db-proxy:*", "${local.arn_prefix.rds}:target-group:*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Stage"
      values   = [each.value]
    }
  }

  statement {
    sid       = "CreateStageDatabaseProxy"
    actions   = ["rds:CreateDBProxy", "rds:AddTagsToResource"]
    resources = ["${local.arn_prefix.rds}:db-proxy:*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Stage"
      values   = [each.value]
    }
  }

}

data "aws_iam_policy_document" "deploy_application" {
  for_each = toset(var.deploy_stages)

  statement {
    sid     = "ManageStageCache"
    actions = ["elasticache:*"]
    resources = [
      "${local.arn_prefix.elasticache}:replicationgroup:${var.project}-${each.value}",
      "${local.arn_prefix.elasticache}:cluster:${var.project}-${each.value}-*",
      "${local.arn_prefix.elasticache}:subnetgroup:${var.project}-${each.value}",
      "${local.arn_prefix.elasticache}:user:${var.project}-${each.value}-*",
      "${local.arn_prefix.elasticache}:usergroup:${var.project}-${each.value}",
      "${local.arn_prefix.elasticache}:parametergroup:*",
      "${local.arn_prefix.elasticache}:snapshot:${var.project}-${each.value}-*",
    ]
  }


  statement {
    sid       = "ManageStageBuckets"
    actions   = local.s3_bucket_manage_actions
    resources = ["arn:${local.partition}:s3:::${var.project}-${each.value}-objects-${local.account_id}"]
  }

  statement {
    sid       = "ManageStageSecrets"
    actions   = ["secretsmanager:*"]
    resources = ["${local.arn_prefix.secretsmanager}:secret:${var.project}-${each.value}/*"]
  }

  statement {
    sid     = "ManageStageLogGroups"
    actions = ["logs:*"]
    resources = [
      "${local.arn_prefix.logs}:log-group:/vpc/${var.project}-${each.value}/*",
      "${local.arn_prefix.logs}:log-group:/aws/rds/cluster/${var.project}-${each.value}/*",
      "${local.arn_prefix.logs}:log-group:/aws/lambda/${var.project}-${each.value}-*",
      "${local.arn_prefix.logs}:log-group:/aws/apigateway/${var.project}-${each.value}-*",
      "${local.arn_prefix.logs}:log-group:aws-waf-logs-${var.project}-${each.value}-*",
    ]
  }

  statement {
    sid       = "WafLogDelivery"
    actions   = ["logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  # What Terraform needs to configure the function, its alias and API Gateway's permission (stacks/api);
  # never lambda:* (policies/iam.rego, IAM_001). Only this stage's function and its qualified ARNs.
  statement {
    sid = "ManageStageFunction"
    actions = [
      "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
      "lambda:UpdateFunctionConfiguration", "lambda:GetFunctionCodeSigningConfig", "lambda:ListVersionsByFunction",
      "lambda:PublishVersion", "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
      "lambda:CreateAlias", "lambda:GetAlias", "lambda:UpdateAlias", "lambda:DeleteAlias",
      "lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy",
      "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags",
    ]
    resources = [
      "${local.arn_prefix.lambda}:function:${var.project}-${each.value}-api",
      "${local.arn_prefix.lambda}:function:${var.project}-${each.value}-api:*",
    ]
  }

  # The agent owns releases: upload code, publish a version, smoke-invoke it, move the alias.
  statement {
    sid = "ReleaseStageFunction"
    actions = [
      "lambda:UpdateFunctionCode", "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:PublishVersion",
      "lambda:InvokeFunction", "lambda:GetAlias", "lambda:CreateAlias", "lambda:UpdateAlias",
    ]
    resources = [
      "${local.arn_prefix.lambda}:function:${var.project}-${each.value}-api",
      "${local.arn_prefix.lambda}:function:${var.project}-${each.value}-api:*",
    ]
  }

  # DescribeAlarms takes alarm ARNs (only composite alarms need "*", and the stacks define none): Terraform
  # refreshes the stage's alarms and a release reads the ones it watches, all named <project>-<stage>-*.
  statement {
    sid       = "ReadStageAlarms"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = ["${local.arn_prefix.cloudwatch}:alarm:${var.project}-${each.value}-*"]
  }

  # After a release the agent writes the dashboard of the function's alias, gitops-<function>-<alias>
  # (agent/internal/dashboard): PutDashboard only, only on this stage's function (policies/iam.rego, IAM_001).
  statement {
    sid       = "WriteReleaseDashboard"
    actions   = ["cloudwatch:PutDashboard"]
    resources = ["arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/gitops-${var.project}-${each.value}-api-*"]
  }

  statement {
    sid       = "ReadReleaseArtifacts"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.artifacts.arn}/lambda/*"]
  }

  statement {
    sid       = "DecryptReleaseArtifacts"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.artifacts.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  # API Gateway ARNs carry generated ids; actions are limited to the region's API resources.
  statement {
    sid       = "ManageApi"
    actions   = ["apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"]
    resources = ["arn:${local.partition}:apigateway:${local.region}::/*"]
  }

  statement {
    sid     = "ManageStageWaf"
    actions = ["wafv2:*"]
    resources = [
      "${local.arn_prefix.wafv2}:regional/webacl/${var.project}-${each.value}-*/*",
      "${local.arn_prefix.wafv2}:regional/managedruleset/*/*",
      "arn:${local.partition}:apigateway:${local.region}::/restapis/*/stages/${each.value}",
    ]
  }

  statement {
    sid       = "ManageCertificates"
    actions   = ["acm:RequestCertificate", "acm:DescribeCertificate", "acm:DeleteCertificate", "acm:AddTagsToCertificate", "acm:RemoveTagsFromCertificate", "acm:ListTagsForCertificate"]
    resources = ["${local.arn_prefix.acm}:certificate/*"]
  }

  statement {
    sid       = "ManageDns"
    actions   = ["route53:CreateHostedZone", "route53:DeleteHostedZone", "route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets", "route53:ChangeTagsForResource", "route53:ListTagsForResource", "route53:GetChange"]
    resources = ["arn:${local.partition}:route53:::hostedzone/*", "arn:${local.partition}:route53:::change/*"]
  }

  statement {
    sid     = "ManageStageAlarmsAndDashboard"
    actions = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource", "cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"]
    resources = [
      "${local.arn_prefix.cloudwatch}:alarm:${var.project}-${each.value}-*",
      "arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${var.project}-${each.value}-*",
    ]
  }

  statement {
    sid       = "ManageStageTopic"
    actions   = ["sns:*"]
    resources = ["${local.arn_prefix.sns}:${var.project}-${each.value}-*"]
  }
}

# The stage that applies the cicd stack also manages the account-level roles (CI, agent, deploy and plan
# roles), the OIDC provider, the artifacts bucket and the API Gateway account setting.
data "aws_iam_policy_document" "deploy_cicd" {
  statement {
    sid = "ManageCicdRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
      "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
      "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
    ]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-ci",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-agent",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-deploy-*",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-plan-*",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-apigateway-logs",
    ]
  }

  statement {
    sid     = "ManageDeployPolicies"
    actions = ["iam:CreatePolicy", "iam:DeletePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:policy/${var.project}-deploy-*",
      "arn:${local.partition}:iam::${local.account_id}:role/${var.project}-deploy-*",
    ]
  }

  statement {
    sid       = "PassApiGatewayLogsRole"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${var.project}-apigateway-logs"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["apigateway.amazonaws.com"]
    }
  }

  statement {
    sid       = "ManageGitlabOidcProvider"
    actions   = ["iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:GetOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider", "iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.gitlab_host}"]
  }

  statement {
    sid       = "ManageArtifactsBucket"
    actions   = local.s3_bucket_manage_actions
    resources = [aws_s3_bucket.artifacts.arn]
  }

  statement {
    sid       = "ManageArtifactsKeyAlias"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["${local.arn_prefix.kms}:alias/${var.project}-artifacts"]
  }

  statement {
    sid       = "ReadExternalId"
    actions   = ["ssm:GetParameter"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.external_id_parameter}"]
  }
}

# The stage that applies the cicd stack also applies the agent stack (stacks/agent): the agent's own VPC,
# load balancer, WAF, ECS service, image repository, database, secrets, logs and alarms, every one named
# <project>-agent... Its network (EC2, region-wide), its keys (tagged with the stage), the certificate and
# the DNS records are already granted by the stage's infrastructure and application policies. Never the
# agent role itself (<project>-agent, owned by this stack): only roles named <project>-agent-*.
locals {
  agent_name = "${var.project}-agent"
}

data "aws_iam_policy_document" "deploy_agent" {
  # Describe and List calls of ECS task definitions and of ELB support no resource-level permissions.
  statement {
    sid       = "ReadAgentServicesInRegion"
    actions   = ["ecs:Describe*", "ecs:List*", "ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition", "elasticloadbalancing:Describe*", "logs:DescribeMetricFilters"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  # Route 53 is global: no region condition. The agent stack looks its zone up by name.
  statement {
    sid       = "FindHostedZone"
    actions   = ["route53:ListHostedZones", "route53:ListHostedZonesByName"]
    resources = ["*"]
  }

  statement {
    sid     = "ManageAgentService"
    actions = ["ecs:*"]
    resources = [
      "${local.arn_prefix.ecs}:cluster/${local.agent_name}",
      "${local.arn_prefix.ecs}:service/${local.agent_name}/*",
      "${local.arn_prefix.ecs}:task-definition/${local.agent_name}:*",
    ]
  }

  statement {
    sid     = "ManageAgentLoadBalancer"
    actions = ["elasticloadbalancing:*"]
    resources = [
      "${local.arn_prefix.elasticloadbalancing}:loadbalancer/app/${local.agent_name}/*",
      "${local.arn_prefix.elasticloadbalancing}:targetgroup/${local.agent_name}-*/*",
      "${local.arn_prefix.elasticloadbalancing}:listener/app/${local.agent_name}/*",
      "${local.arn_prefix.elasticloadbalancing}:listener-rule/app/${local.agent_name}/*",
    ]
  }

  # Associating the web ACL needs the permission on the ACL and on the load balancer.
  statement {
    sid     = "ManageAgentWaf"
    actions = ["wafv2:*"]
    resources = [
      "${local.arn_prefix.wafv2}:regional/webacl/${local.agent_name}/*",
      "${local.arn_prefix.wafv2}:regional/ipset/${local.agent_name}-*/*",
      "${local.arn_prefix.elasticloadbalancing}:loadbalancer/app/${local.agent_name}/*",
    ]
  }

  statement {
    sid       = "ManageAgentRepository"
    actions   = ["ecr:*"]
    resources = ["${local.arn_prefix.ecr}:repository/${local.agent_name}"]
  }

  statement {
    sid     = "ManageAgentDatabase"
    actions = ["rds:*"]
    resources = [
      "${local.arn_prefix.rds}:cluster:${local.agent_name}",
      "${local.arn_prefix.rds}:db:${local.agent_name}-*",
      "${local.arn_prefix.rds}:subgrp:${local.agent_name}",
      "${local.arn_prefix.rds}:cluster-pg:${local.agent_name}-*",
      "${local.arn_prefix.rds}:cluster-snapshot:${local.agent_name}-*",
    ]
  }

  # RDS creates the master user's secret (manage_master_user_password) and schedules its rotation as the
  # caller; its name is rds!cluster-<id>, known only once created.
  statement {
    sid       = "CreateDatabaseMasterSecret"
    actions   = ["secretsmanager:CreateSecret", "secretsmanager:RotateSecret", "secretsmanager:TagResource"]
    resources = ["${local.arn_prefix.secretsmanager}:secret:rds!cluster-*"]
  }

  statement {
    sid       = "ManageAgentSecrets"
    actions   = ["secretsmanager:*"]
    resources = ["${local.arn_prefix.secretsmanager}:secret:${local.agent_name}/*"]
  }

  statement {
    sid     = "ManageAgentLogGroups"
    actions = ["logs:*"]
    resources = [
      "${local.arn_prefix.logs}:log-group:/ecs/${local.agent_name}*",
      "${local.arn_prefix.logs}:log-group:/aws/rds/cluster/${local.agent_name}/*",
      "${local.arn_prefix.logs}:log-group:aws-waf-logs-${local.agent_name}*",
    ]
  }

  statement {
    sid       = "ManageAgentAlarms"
    actions   = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"]
    resources = ["${local.arn_prefix.cloudwatch}:alarm:${local.agent_name}-*"]
  }

  statement {
    sid       = "ManageAgentTopic"
    actions   = ["sns:*"]
    resources = ["${local.arn_prefix.sns}:${local.agent_name}-*"]
  }

  statement {
    sid       = "ManageAgentKeyAliases"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["${local.arn_prefix.kms}:alias/${local.agent_name}*"]
  }

  statement {
    sid = "ManageAgentExecutionRole"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
      "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
      "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${local.agent_name}-*"]
  }

  statement {
    sid       = "ReadAgentRole"
    actions   = ["iam:GetRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${local.agent_name}"]
  }

  # The task definition names the execution role and the task role (the agent role): ECS tasks only.
  statement {
    sid     = "PassAgentRolesToEcsTasks"
    actions = ["iam:PassRole"]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:role/${local.agent_name}",
      "arn:${local.partition}:iam::${local.account_id}:role/${local.agent_name}-execution",
    ]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "CreateAgentServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com", "rds.amazonaws.com"]
    }
  }
}

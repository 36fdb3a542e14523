package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// brokenVariant is a compliant plan with one deliberate violation. The fixture file is
// broken/ID.STAGE.NAME.json; every variant but a warning's is denied by exactly rule ID.
type brokenVariant struct {
	id, stage, name string
	breakIt         func(p *platformPlan)
}

func (v brokenVariant) file() string { return fmt.Sprintf("%s.%s.%s.json", v.id, v.stage, v.name) }

// inStack makes a variant whose plan is the plan of that one stack, as the agent plans it.
func inStack(id, stage, name, stack string, breakIt func(p *platformPlan)) brokenVariant {
	return brokenVariant{id, stage, name, func(p *platformPlan) {
		breakIt(p)
		p.keep(stack)
	}}
}

// Addresses of the stacks' resources the variants break.
const (
	objectsSSE     = "module.data.aws_s3_bucket_server_side_encryption_configuration.objects"
	objectsPolicy  = "module.data.data.aws_iam_policy_document.objects_bucket"
	auroraCluster  = "module.data.aws_rds_cluster.this"
	dbProxy        = "module.data.aws_db_proxy.this"
	cacheGroup     = "module.data.aws_elasticache_replication_group.this"
	apiFunction    = "module.api.aws_lambda_function.api"
	apiStage       = "module.api.aws_api_gateway_stage.this"
	lambdaPolicy   = "module.api.data.aws_iam_policy_document.lambda"
	accessLogGroup = "module.api.aws_cloudwatch_log_group.access"
	agentListener  = "module.agent.aws_lb_listener.https"
	agentTask      = "module.agent.aws_ecs_task_definition.agent"
)

var brokenVariants = []brokenVariant{
	inStack("S3_001", "dev", "sse-aes256", "data", func(p *platformPlan) {
		p.after(objectsSSE)["rule"] = []any{obj{"bucket_key_enabled": false, "apply_server_side_encryption_by_default": []any{obj{"sse_algorithm": "AES256", "kms_master_key_id": nil}}}}
		p.unknown(objectsSSE)["rule"] = []any{obj{"apply_server_side_encryption_by_default": []any{obj{}}}}
	}),
	inStack("S3_001", "staging", "no-encryption-resource", "data", func(p *platformPlan) {
		p.remove(objectsSSE)
	}),
	inStack("S3_002", "dev", "public-policy-allowed", "data", func(p *platformPlan) {
		p.after("module.data.aws_s3_bucket_public_access_block.objects")["block_public_policy"] = false
	}),
	inStack("S3_003", "prod", "versioning-suspended", "data", func(p *platformPlan) {
		p.after("module.data.aws_s3_bucket_versioning.objects")["versioning_configuration"] = []any{obj{"status": "Suspended", "mfa_delete": nil}}
	}),
	inStack("S3_004", "dev", "no-secure-transport-condition", "data", func(p *platformPlan) {
		for _, s := range p.after(objectsPolicy)["statement"].([]any) {
			if s.(obj)["sid"] == "DenyInsecureTransport" {
				s.(obj)["condition"] = []any{}
			}
		}
	}),
	inStack("RDS_001", "dev", "aws-managed-key", "data", func(p *platformPlan) {
		p.after(auroraCluster)["kms_key_id"] = "alias/aws/rds"
		delete(p.unknown(auroraCluster), "kms_key_id")
	}),
	inStack("RDS_002", "staging", "no-iam-auth", "data", func(p *platformPlan) {
		p.after(auroraCluster)["iam_database_authentication_enabled"] = false
	}),
	inStack("RDS_003", "dev", "public-instance", "data", func(p *platformPlan) {
		p.after("module.data.aws_rds_cluster_instance.this[0]")["publicly_accessible"] = true
	}),
	inStack("RDS_004", "prod", "short-backups", "data", func(p *platformPlan) {
		p.after(auroraCluster)["backup_retention_period"] = 3
	}),
	inStack("RDS_005", "prod", "no-deletion-protection", "data", func(p *platformPlan) {
		p.after(auroraCluster)["deletion_protection"] = false
	}),
	inStack("RDSPROXY_001", "dev", "no-tls", "data", func(p *platformPlan) {
		p.after(dbProxy)["require_tls"] = false
	}),
	inStack("RDSPROXY_002", "staging", "iam-auth-disabled", "data", func(p *platformPlan) {
		p.after(dbProxy)["auth"].([]any)[0].(obj)["iam_auth"] = "DISABLED"
	}),
	inStack("ELASTICACHE_001", "dev", "plaintext", "data", func(p *platformPlan) {
		p.after(cacheGroup)["transit_encryption_enabled"] = false
		p.after(cacheGroup)["transit_encryption_mode"] = nil
	}),
	inStack("ELASTICACHE_002", "dev", "unencrypted-at-rest", "data", func(p *platformPlan) {
		p.after(cacheGroup)["at_rest_encryption_enabled"] = "false"
	}),
	inStack("ELASTICACHE_003", "dev", "no-auth", "data", func(p *platformPlan) {
		p.after(cacheGroup)["user_group_ids"] = nil
		delete(p.unknown(cacheGroup), "user_group_ids")
	}),
	inStack("ELASTICACHE_004", "prod", "no-failover", "data", func(p *platformPlan) {
		p.after(cacheGroup)["automatic_failover_enabled"] = false
	}),
	inStack("SG_001", "dev", "aurora-open-to-internet", "data", func(p *platformPlan) {
		r := "module.data.aws_vpc_security_group_ingress_rule.aurora_from_proxy"
		p.after(r)["cidr_ipv4"] = "0.0.0.0/0"
		p.after(r)["referenced_security_group_id"] = nil
		delete(p.unknown(r), "referenced_security_group_id")
	}),
	inStack("IAM_001", "dev", "function-allowed-everything", "api", func(p *platformPlan) {
		doc := p.after(lambdaPolicy)
		doc["statement"] = append(doc["statement"].([]any), obj{
			"sid": "Everything", "effect": "Allow", "actions": []any{"*"}, "resources": []any{"*"},
			"not_actions": nil, "not_resources": nil, "condition": []any{}, "principals": []any{}, "not_principals": []any{},
		})
	}),
	inStack("IAM_001", "prod", "deploy-policy-allows-everything", "cicd", func(p *platformPlan) {
		// As the provider renders an aws_iam_policy_document: indented JSON, one action as a string.
		p.after(`module.cicd.aws_iam_policy.deploy_infrastructure["dev"]`)["policy"] = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": \"*\",\n      \"Resource\": \"*\"\n    }\n  ]\n}"
	}),
	inStack("IAM_002", "prod", "ci-user-access-key", "cicd", func(p *platformPlan) {
		tags := p.tags("cicd")
		p.addManaged("cicd", "aws_iam_user", "ci", obj{"name": "gitlab-ci", "path": "/", "force_destroy": false, "tags": nil, "tags_all": tags}, obj{"id": true, "arn": true, "unique_id": true, "tags_all": obj{}}, nil)
		p.addManaged("cicd", "aws_iam_access_key", "ci", obj{"status": "Active", "pgp_key": nil}, obj{"id": true, "secret": true, "user": true}, map[string][]any{"user": {"aws_iam_user.ci.name", "aws_iam_user.ci"}})
	}),
	inStack("IAM_003", "prod", "plan-role-writes-state", "cicd", func(p *platformPlan) {
		after := p.after(`module.cicd.aws_iam_role_policy.plan["dev"]`)
		var doc map[string]any
		if err := json.Unmarshal([]byte(after["policy"].(string)), &doc); err != nil {
			panic(err)
		}
		for _, s := range doc["Statement"].([]any) {
			if s.(obj)["Sid"] == "ReadTerraformState" {
				s.(obj)["Action"] = []any{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
			}
		}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			panic(err)
		}
		after["policy"] = string(b)
	}),
	inStack("LAMBDA_001", "dev", "outside-vpc", "api", func(p *platformPlan) {
		p.after(apiFunction)["vpc_config"] = []any{}
		p.unknown(apiFunction)["vpc_config"] = []any{}
	}),
	inStack("LAMBDA_002", "staging", "no-log-group", "api", func(p *platformPlan) {
		p.remove("module.api.aws_cloudwatch_log_group.lambda")
	}),
	inStack("LAMBDA_003", "dev", "no-tracing", "api", func(p *platformPlan) {
		p.after(apiFunction)["tracing_config"] = []any{obj{"mode": "PassThrough"}}
	}),
	inStack("APIGW_001", "dev", "no-access-logs", "api", func(p *platformPlan) {
		p.after(apiStage)["access_log_settings"] = []any{}
		p.unknown(apiStage)["access_log_settings"] = []any{}
	}),
	inStack("APIGW_002", "prod", "no-waf", "api", func(p *platformPlan) {
		p.remove("module.api.aws_wafv2_web_acl_association.stage")
	}),
	inStack("APIGW_003", "dev", "tls-1-0", "api", func(p *platformPlan) {
		p.after("module.api.aws_api_gateway_domain_name.api")["security_policy"] = "TLS_1_0"
	}),
	inStack("APIGW_004", "dev", "method-without-key", "api", func(p *platformPlan) {
		p.after(`module.api.aws_api_gateway_method.any["proxy"]`)["api_key_required"] = false
	}),
	inStack("ALB_001", "prod", "tls-1-0-policy", "agent", func(p *platformPlan) {
		p.after(agentListener)["ssl_policy"] = "ELBSecurityPolicy-2016-08"
	}),
	inStack("ALB_002", "prod", "no-waf", "agent", func(p *platformPlan) {
		p.remove("module.agent.aws_wafv2_web_acl_association.alb")
	}),
	inStack("ECS_001", "prod", "host-network", "agent", func(p *platformPlan) {
		p.after(agentTask)["network_mode"] = "host"
	}),
	inStack("KMS_001", "dev", "no-rotation", "data", func(p *platformPlan) {
		p.after("module.data.aws_kms_key.data")["enable_key_rotation"] = false
	}),
	inStack("SECRETS_001", "dev", "secret-added-with-aws-managed-key", "api", func(p *platformPlan) {
		// The stacks keep no secret of their own (RDS manages the master password): a change adds one
		// without kms_key_id.
		p.addManaged("api", "aws_secretsmanager_secret", "app", obj{
			"name": "gitops-agent-dev/api/app", "description": "application settings", "recovery_window_in_days": 30,
			"kms_key_id": nil, "policy": nil, "force_overwrite_replica_secret": false, "region": "eu-west-1",
			"replica": []any{}, "tags": nil, "tags_all": p.tags("api"),
		}, obj{"arn": true, "id": true, "name_prefix": true, "replica": []any{}, "tags_all": obj{}}, nil)
	}),
	inStack("LOGS_001", "dev", "access-logs-never-expire", "api", func(p *platformPlan) {
		p.after(accessLogGroup)["retention_in_days"] = 0
	}),
	inStack("TAGS_001", "dev", "missing-stack-tag", "observability", func(p *platformPlan) {
		delete(p.after("module.observability.aws_sns_topic.alarms")["tags_all"].(obj), "Stack")
	}),
	inStack("CHANGE_001", "dev", "bucket-destroyed", "data", func(p *platformPlan) {
		// The bucket and everything configuring it are gone from the configuration.
		for _, rc := range slices.Clone(p.changes) {
			a := rc["address"].(string)
			if strings.HasPrefix(a, "module.data.aws_s3_bucket") && strings.HasSuffix(a, ".objects") {
				p.setActions(a, "delete")
			}
		}
		p.remove(objectsPolicy)
		p.configs["data"] = slices.DeleteFunc(p.configs["data"], func(c obj) bool {
			return strings.HasPrefix(c["address"].(string), "aws_s3_bucket") && strings.HasSuffix(c["address"].(string), ".objects")
		})
	}),
	inStack("CHANGE_002", "prod", "function-replaced", "api", func(p *platformPlan) {
		p.setActions(apiFunction, "create", "delete")
	}),
}

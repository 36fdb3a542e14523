package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// This file builds the plan JSON fixtures in policies/testdata: the platform's stacks (network, data,
// api, observability, cicd) as modules of one plan per stage, shaped as `terraform show -json` emits
// them for the hashicorp/aws provider, and the broken variants each denied by exactly one rule.
// TestFixturesUpToDate keeps the committed files equal to what is built here (-update rewrites them).

type obj = map[string]any

// platformPlan is a plan under construction.
type platformPlan struct {
	stage   string
	changes []obj
	configs map[string][]obj // module name → configuration resource blocks
}

const awsProvider = "registry.terraform.io/hashicorp/aws"

// add appends a managed resource change in module m. unknown lists the attributes known only after
// apply; refs maps an attribute to the references its expression holds (relative to the module).
func (p *platformPlan) add(m, typ, name string, after obj, unknown obj, refs map[string][]string) {
	p.addMode("managed", m, typ, name, after, unknown, refs)
}

func (p *platformPlan) addMode(mode, m, typ, name string, after obj, unknown obj, refs map[string][]string) {
	local := typ + "." + name
	actions := []any{"create"}
	if mode == "data" {
		local = "data." + local
		actions = []any{"read"}
	}
	base, index := name, any(nil)
	if i := strings.IndexByte(name, '['); i > 0 {
		base = name[:i]
		var n int
		if _, err := fmt.Sscanf(name[i:], "[%d]", &n); err != nil {
			panic("fixture: bad instance key in " + name)
		}
		index = n
	}
	if unknown == nil {
		unknown = obj{}
	}
	if mode == "managed" {
		if _, ok := after["tags_all"]; ok {
			after["tags_all"] = p.tags(m)
		}
	}
	rc := obj{
		"address":        "module." + m + "." + local,
		"module_address": "module." + m,
		"mode":           mode,
		"type":           typ,
		"name":           base,
		"provider_name":  awsProvider,
		"change": obj{
			"actions":          actions,
			"before":           nil,
			"after":            after,
			"after_unknown":    unknown,
			"before_sensitive": false,
			"after_sensitive":  obj{},
		},
	}
	if index != nil {
		rc["index"] = index
	}
	p.changes = append(p.changes, rc)
	cfgAddress := typ + "." + base
	if mode == "data" {
		cfgAddress = "data." + cfgAddress
	}
	for _, c := range p.configs[m] {
		if c["address"] == cfgAddress {
			return
		}
	}
	exprs := obj{}
	for attr, v := range after {
		switch v.(type) {
		case string, bool, int, float64:
			exprs[attr] = obj{"constant_value": v}
		}
	}
	for attr, rs := range refs {
		list := make([]any, 0, len(rs))
		for _, r := range rs {
			list = append(list, r)
		}
		exprs[attr] = obj{"references": list}
	}
	p.configs[m] = append(p.configs[m], obj{
		"address":             cfgAddress,
		"mode":                mode,
		"type":                typ,
		"name":                base,
		"provider_config_key": "aws",
		"expressions":         exprs,
		"schema_version":      0,
	})
}

func (p *platformPlan) tags(stack string) obj {
	return obj{"Project": "documents", "Stage": p.stage, "Stack": stack, "ManagedBy": "gitops-agent"}
}

// ref is the pair of references Terraform records for resource.attr: the attribute and the resource.
func ref(resource, attr string) []string { return []string{resource + "." + attr, resource} }

// change returns the resource change at address; it panics on a fixture bug.
func (p *platformPlan) change(address string) obj {
	for _, rc := range p.changes {
		if rc["address"] == address {
			return rc
		}
	}
	panic("fixture: no resource " + address)
}

func (p *platformPlan) after(address string) obj {
	return p.change(address)["change"].(obj)["after"].(obj)
}

func (p *platformPlan) unknown(address string) obj {
	return p.change(address)["change"].(obj)["after_unknown"].(obj)
}

// setActions changes what the plan does to address; a plain delete moves the planned values to before.
func (p *platformPlan) setActions(address string, actions ...any) {
	c := p.change(address)["change"].(obj)
	c["actions"] = actions
	if len(actions) == 1 && actions[0] == "delete" {
		c["before"], c["after"], c["after_unknown"] = c["after"], nil, obj{}
	}
}

func (p *platformPlan) remove(address string) {
	p.changes = slices.DeleteFunc(p.changes, func(rc obj) bool { return rc["address"] == address })
}

// plannedValues is the planned state Terraform records beside the changes: every resource that
// exists after apply with its known values, grouped by module.
func (p *platformPlan) plannedValues() obj {
	byModule := map[string][]any{}
	var order []string
	for _, rc := range p.changes {
		c := rc["change"].(obj)
		if rc["mode"] != "managed" || c["after"] == nil {
			continue
		}
		m := rc["module_address"].(string)
		if _, ok := byModule[m]; !ok {
			order = append(order, m)
		}
		r := obj{
			"address": rc["address"], "mode": "managed", "type": rc["type"], "name": rc["name"],
			"provider_name": awsProvider, "schema_version": 0, "values": c["after"], "sensitive_values": obj{},
		}
		if i, ok := rc["index"]; ok {
			r["index"] = i
		}
		byModule[m] = append(byModule[m], r)
	}
	children := make([]any, 0, len(order))
	for _, m := range order {
		children = append(children, obj{"address": m, "resources": byModule[m]})
	}
	return obj{"root_module": obj{"child_modules": children}}
}

// json renders the plan as `terraform show -json` does.
func (p *platformPlan) json() []byte {
	calls := obj{}
	for m, resources := range p.configs {
		calls[m] = obj{"source": "../../modules/" + strings.TrimRight(m, "_0123456789"), "module": obj{"resources": resources}}
	}
	doc := obj{
		"format_version":    "1.2",
		"terraform_version": "1.11.4",
		"planned_values":    p.plannedValues(),
		"resource_changes":  p.changes,
		"configuration": obj{
			"provider_config": obj{"aws": obj{
				"name":      "aws",
				"full_name": awsProvider,
				"expressions": obj{
					"region":       obj{"constant_value": "eu-west-1"},
					"default_tags": []any{obj{"tags": obj{"references": []any{"local.tags"}}}},
				},
			}},
			"root_module": obj{"module_calls": calls},
		},
		"timestamp": "2026-11-26T12:00:00Z",
		"applyable": true,
		"complete":  true,
		"errored":   false,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// buildPlatform is the compliant platform plan for stage: every resource created.
func buildPlatform(stage string) *platformPlan {
	p := &platformPlan{stage: stage, configs: map[string][]obj{}}
	prod := stage == "prod"
	arn := func(service, res string) string {
		return fmt.Sprintf("arn:aws:%s:eu-west-1:123456789012:%s", service, res)
	}
	name := "documents-" + stage
	t := func() obj { return obj{"tags_all": nil, "tags": nil} }
	with := func(a, b obj) obj {
		out := obj{}
		for _, m := range []obj{a, b} {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	idArn := obj{"id": true, "arn": true}

	// network
	p.add("network", "aws_vpc", "main", with(t(), obj{"cidr_block": "10.20.0.0/16", "enable_dns_hostnames": true}), obj{"id": true, "arn": true}, nil)
	for i, az := range []string{"a", "b"} {
		p.add("network", "aws_subnet", fmt.Sprintf("private[%d]", i), with(t(), obj{"cidr_block": fmt.Sprintf("10.20.%d.0/24", i), "availability_zone": "eu-west-1" + az, "map_public_ip_on_launch": false}),
			obj{"id": true, "arn": true, "vpc_id": true}, map[string][]string{"vpc_id": ref("aws_vpc.main", "id")})
	}
	egress := []any{obj{"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": []any{"0.0.0.0/0"}, "ipv6_cidr_blocks": []any{}, "security_groups": []any{}, "self": false, "description": "all egress"}}
	p.add("network", "aws_security_group", "lambda", with(t(), obj{"name": name + "-lambda", "ingress": []any{}, "egress": egress}), obj{"id": true, "arn": true, "vpc_id": true}, map[string][]string{"vpc_id": ref("aws_vpc.main", "id")})
	for _, sg := range []struct {
		name string
		port int
	}{{"db", 5432}, {"cache", 6379}} {
		ingress := []any{obj{"from_port": sg.port, "to_port": sg.port, "protocol": "tcp", "cidr_blocks": []any{}, "ipv6_cidr_blocks": []any{}, "prefix_list_ids": []any{}, "self": false, "description": "from the API function"}}
		p.add("network", "aws_security_group", sg.name, with(t(), obj{"name": name + "-" + sg.name, "ingress": ingress, "egress": egress}),
			obj{"id": true, "arn": true, "vpc_id": true, "ingress": []any{obj{"security_groups": true}}}, map[string][]string{"vpc_id": ref("aws_vpc.main", "id")})
	}

	// data
	p.add("data", "aws_kms_key", "data", with(t(), obj{"description": "documents data", "enable_key_rotation": true, "customer_master_key_spec": "SYMMETRIC_DEFAULT", "deletion_window_in_days": 30}), with(idArn, obj{"key_id": true, "policy": true}), nil)
	p.add("data", "aws_kms_alias", "data", obj{"name": "alias/" + name}, obj{"id": true, "arn": true, "target_key_id": true}, map[string][]string{"target_key_id": ref("aws_kms_key.data", "key_id")})
	p.add("data", "aws_secretsmanager_secret", "db", with(t(), obj{"name": name + "/db", "recovery_window_in_days": 30}), with(idArn, obj{"kms_key_id": true}), map[string][]string{"kms_key_id": ref("aws_kms_key.data", "arn")})
	p.add("data", "aws_db_subnet_group", "main", with(t(), obj{"name": name}), with(idArn, obj{"subnet_ids": true}), nil)
	retention, protect := 1, false
	if prod {
		retention, protect = 14, true
	}
	p.add("data", "aws_rds_cluster", "main", with(t(), obj{
		"cluster_identifier": name, "engine": "aurora-postgresql", "engine_version": "16.4", "database_name": "documents",
		"storage_encrypted": true, "iam_database_authentication_enabled": true, "backup_retention_period": retention,
		"deletion_protection": protect, "manage_master_user_password": true, "skip_final_snapshot": !prod,
	}), with(idArn, obj{"kms_key_id": true, "endpoint": true, "master_user_secret": true}), map[string][]string{"kms_key_id": ref("aws_kms_key.data", "arn")})
	instances := 1
	if prod {
		instances = 2
	}
	for i := range instances {
		p.add("data", "aws_rds_cluster_instance", fmt.Sprintf("main[%d]", i), with(t(), obj{"instance_class": "db.serverless", "engine": "aurora-postgresql", "publicly_accessible": false}),
			with(idArn, obj{"cluster_identifier": true}), map[string][]string{"cluster_identifier": ref("aws_rds_cluster.main", "id")})
	}
	p.add("data", "aws_db_proxy", "main", with(t(), obj{
		"name": name, "engine_family": "POSTGRESQL", "require_tls": true, "idle_client_timeout": 1800,
		"auth": []any{obj{"auth_scheme": "SECRETS", "iam_auth": "REQUIRED", "client_password_auth_type": "POSTGRES_SCRAM_SHA_256"}},
	}), with(idArn, obj{"endpoint": true, "role_arn": true, "vpc_subnet_ids": true, "auth": []any{obj{"secret_arn": true}}}), nil)
	p.add("data", "aws_db_proxy_default_target_group", "main", obj{"connection_pool_config": []any{obj{"max_connections_percent": 90}}}, obj{"id": true, "db_proxy_name": true}, map[string][]string{"db_proxy_name": ref("aws_db_proxy.main", "name")})
	p.add("data", "aws_db_proxy_target", "main", obj{"target_group_name": "default"}, obj{"id": true, "db_proxy_name": true, "db_cluster_identifier": true}, nil)
	p.add("data", "aws_secretsmanager_secret", "cache_auth", with(t(), obj{"name": name + "/cache-auth", "recovery_window_in_days": 30}), with(idArn, obj{"kms_key_id": true}), map[string][]string{"kms_key_id": ref("aws_kms_key.data", "arn")})
	p.add("data", "aws_elasticache_subnet_group", "main", with(t(), obj{"name": name}), obj{"id": true, "arn": true, "subnet_ids": true}, nil)
	clusters := 1
	if prod {
		clusters = 2
	}
	p.add("data", "aws_elasticache_replication_group", "cache", with(t(), obj{
		"replication_group_id": name, "description": "documents cache", "engine": "redis", "engine_version": "7.1", "node_type": "cache.t4g.small",
		"num_cache_clusters": clusters, "automatic_failover_enabled": prod, "multi_az_enabled": prod,
		"transit_encryption_enabled": true, "at_rest_encryption_enabled": "true",
	}), with(idArn, obj{"auth_token": true, "kms_key_id": true, "primary_endpoint_address": true}), map[string][]string{
		"auth_token": ref("random_password.cache_auth", "result"), "kms_key_id": ref("aws_kms_key.data", "arn"),
	})
	bucket := ref("aws_s3_bucket.documents", "id")
	p.add("data", "aws_s3_bucket", "documents", with(t(), obj{"bucket_prefix": name + "-", "force_destroy": false}), with(idArn, obj{"bucket": true, "bucket_domain_name": true}), nil)
	p.add("data", "aws_s3_bucket_server_side_encryption_configuration", "documents", obj{
		"expected_bucket_owner": nil,
		"rule":                  []any{obj{"bucket_key_enabled": true, "apply_server_side_encryption_by_default": []any{obj{"sse_algorithm": "aws:kms"}}}},
	}, obj{"id": true, "bucket": true, "rule": []any{obj{"apply_server_side_encryption_by_default": []any{obj{"kms_master_key_id": true}}}}}, map[string][]string{"bucket": bucket})
	p.add("data", "aws_s3_bucket_public_access_block", "documents", obj{"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}, obj{"id": true, "bucket": true}, map[string][]string{"bucket": bucket})
	p.add("data", "aws_s3_bucket_versioning", "documents", obj{"versioning_configuration": []any{obj{"status": "Enabled", "mfa_delete": nil}}}, obj{"id": true, "bucket": true}, map[string][]string{"bucket": bucket})
	p.addMode("data", "data", "aws_iam_policy_document", "documents_tls", obj{"statement": []any{obj{
		"sid": "TLSOnly", "effect": "Deny", "actions": []any{"s3:*"},
		"principals": []any{obj{"type": "*", "identifiers": []any{"*"}}},
		"condition":  []any{obj{"test": "Bool", "variable": "aws:SecureTransport", "values": []any{"false"}}},
	}}}, obj{"id": true, "json": true, "minified_json": true, "statement": []any{obj{"resources": true}}}, nil)
	p.add("data", "aws_s3_bucket_policy", "documents", obj{}, obj{"id": true, "bucket": true, "policy": true}, map[string][]string{
		"bucket": bucket, "policy": ref("data.aws_iam_policy_document.documents_tls", "json"),
	})

	// api
	assume := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	p.add("api", "aws_iam_role", "lambda", with(t(), obj{"name": name + "-api", "assume_role_policy": assume}), with(idArn, obj{"unique_id": true}), nil)
	lambdaPolicy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::%s-*/*"},{"Effect":"Allow","Action":"rds-db:connect","Resource":"%s"},{"Effect":"Allow","Action":["xray:PutTraceSegments","xray:PutTelemetryRecords"],"Resource":"*"}]}`, name, arn("rds-db", "dbuser:*/documents_api"))
	p.add("api", "aws_iam_role_policy", "lambda", obj{"name": "api", "policy": lambdaPolicy}, obj{"id": true, "role": true}, map[string][]string{"role": ref("aws_iam_role.lambda", "id")})
	p.add("api", "aws_cloudwatch_log_group", "lambda", with(t(), obj{"name": "/aws/lambda/" + name + "-api", "retention_in_days": map[bool]int{true: 365, false: 30}[prod]}), with(idArn, nil), nil)
	p.add("api", "aws_lambda_function", "api", with(t(), obj{
		"function_name": name + "-api", "runtime": "provided.al2023", "handler": "bootstrap", "architectures": []any{"arm64"},
		"memory_size": 256, "timeout": 10, "publish": true,
		"vpc_config":     []any{obj{}},
		"tracing_config": []any{obj{"mode": "Active"}},
		"logging_config": []any{obj{"log_format": "JSON"}},
	}), with(idArn, obj{"version": true, "qualified_arn": true, "invoke_arn": true, "role": true,
		"vpc_config":     []any{obj{"subnet_ids": true, "security_group_ids": true, "vpc_id": true}},
		"logging_config": []any{obj{"log_group": true}},
	}), map[string][]string{"role": ref("aws_iam_role.lambda", "arn")})
	p.add("api", "aws_lambda_alias", "live", obj{"name": "live", "function_name": name + "-api"}, obj{"id": true, "arn": true, "function_version": true, "invoke_arn": true}, map[string][]string{"function_version": ref("aws_lambda_function.api", "version")})
	p.add("api", "aws_api_gateway_rest_api", "api", with(t(), obj{"name": name, "api_key_source": "HEADER", "endpoint_configuration": []any{obj{"types": []any{"REGIONAL"}}}}), with(idArn, obj{"root_resource_id": true, "execution_arn": true}), nil)
	p.add("api", "aws_api_gateway_resource", "proxy", obj{"path_part": "{proxy+}"}, obj{"id": true, "rest_api_id": true, "parent_id": true}, nil)
	p.add("api", "aws_api_gateway_method", "proxy", obj{"http_method": "ANY", "authorization": "NONE", "api_key_required": true}, obj{"id": true, "rest_api_id": true, "resource_id": true}, nil)
	p.add("api", "aws_api_gateway_integration", "proxy", obj{"type": "AWS_PROXY", "integration_http_method": "POST", "http_method": "ANY"}, obj{"id": true, "uri": true, "rest_api_id": true, "resource_id": true}, nil)
	p.add("api", "aws_api_gateway_deployment", "api", obj{"triggers": obj{"redeployment": "3f1c2e"}}, obj{"id": true, "rest_api_id": true}, nil)
	p.add("api", "aws_cloudwatch_log_group", "access", with(t(), obj{"name": "/aws/apigateway/" + name, "retention_in_days": 90}), with(idArn, nil), nil)
	p.add("api", "aws_api_gateway_stage", "live", with(t(), obj{
		"stage_name": "live", "xray_tracing_enabled": true,
		"access_log_settings": []any{obj{"format": `{"requestId":"$context.requestId","status":"$context.status"}`}},
	}), with(idArn, obj{"rest_api_id": true, "deployment_id": true, "invoke_url": true, "access_log_settings": []any{obj{"destination_arn": true}}}), map[string][]string{
		"deployment_id": ref("aws_api_gateway_deployment.api", "id"),
	})
	p.add("api", "aws_wafv2_web_acl", "api", with(t(), obj{"name": name, "scope": "REGIONAL", "default_action": []any{obj{"allow": []any{obj{}}, "block": []any{}}}}), with(idArn, obj{"capacity": true}), nil)
	p.add("api", "aws_wafv2_web_acl_association", "api", obj{}, obj{"id": true, "resource_arn": true, "web_acl_arn": true}, map[string][]string{
		"resource_arn": ref("aws_api_gateway_stage.live", "arn"), "web_acl_arn": ref("aws_wafv2_web_acl.api", "arn"),
	})
	p.add("api", "aws_api_gateway_domain_name", "api", with(t(), obj{"domain_name": "api." + stage + ".documents.example.com", "security_policy": "TLS_1_2", "endpoint_configuration": []any{obj{"types": []any{"REGIONAL"}}}}), with(idArn, obj{"regional_certificate_arn": true, "regional_domain_name": true}), nil)
	p.add("api", "aws_api_gateway_base_path_mapping", "api", obj{"base_path": ""}, obj{"id": true, "api_id": true, "stage_name": true, "domain_name": true}, nil)
	p.add("api", "aws_api_gateway_api_key", "client", with(t(), obj{"name": name + "-client", "enabled": true}), with(idArn, obj{"value": true}), nil)
	p.add("api", "aws_api_gateway_usage_plan", "api", with(t(), obj{"name": name, "throttle_settings": []any{obj{"burst_limit": 100, "rate_limit": 50}}}), with(idArn, nil), nil)
	p.add("api", "aws_api_gateway_usage_plan_key", "client", obj{"key_type": "API_KEY"}, obj{"id": true, "key_id": true, "usage_plan_id": true}, nil)
	p.add("api", "aws_lambda_permission", "apigw", obj{"action": "lambda:InvokeFunction", "principal": "apigateway.amazonaws.com", "qualifier": "live"}, obj{"id": true, "source_arn": true, "function_name": true}, nil)

	// observability
	p.add("observability", "aws_sns_topic", "alarms", with(t(), obj{"name": name + "-alarms"}), with(idArn, obj{"kms_master_key_id": true}), nil)
	for _, a := range []string{"errors", "latency"} {
		p.add("observability", "aws_cloudwatch_metric_alarm", a, with(t(), obj{"alarm_name": name + "-api-" + a, "namespace": "AWS/Lambda", "evaluation_periods": 2, "threshold": 1}), with(idArn, obj{"alarm_actions": true}), nil)
	}

	// cicd
	p.add("cicd", "aws_iam_openid_connect_provider", "gitlab", with(t(), obj{"url": "https://gitlab.com", "client_id_list": []any{"https://gitlab.com"}}), with(idArn, nil), nil)
	deployAssume := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/gitlab.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"gitlab.com:sub":"project_path:platform/documents:ref_type:branch:ref:main"}}}]}`
	p.add("cicd", "aws_iam_role", "deploy", with(t(), obj{"name": name + "-deploy", "assume_role_policy": deployAssume, "max_session_duration": 3600}), with(idArn, obj{"unique_id": true}), nil)
	deployPolicy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:UpdateFunctionCode","lambda:PublishVersion","lambda:UpdateAlias","lambda:GetAlias"],"Resource":"%s"},{"Effect":"Allow","Action":"cloudwatch:DescribeAlarms","Resource":"*"}]}`, arn("lambda", "function:"+name+"-api*"))
	p.add("cicd", "aws_iam_role_policy", "deploy", obj{"name": "deploy", "policy": deployPolicy}, obj{"id": true, "role": true}, map[string][]string{"role": ref("aws_iam_role.deploy", "id")})
	return p
}

// brokenVariant is a compliant plan with one deliberate violation. The fixture file is
// broken/ID.STAGE.NAME.json; every variant but a warning's is denied by exactly rule ID.
type brokenVariant struct {
	id, stage, name string
	breakIt         func(p *platformPlan)
}

func (v brokenVariant) file() string { return fmt.Sprintf("%s.%s.%s.json", v.id, v.stage, v.name) }

var brokenVariants = []brokenVariant{
	{"S3_001", "dev", "sse-aes256", func(p *platformPlan) {
		sse := "module.data.aws_s3_bucket_server_side_encryption_configuration.documents"
		p.after(sse)["rule"] = []any{obj{"bucket_key_enabled": false, "apply_server_side_encryption_by_default": []any{obj{"sse_algorithm": "AES256", "kms_master_key_id": ""}}}}
		p.unknown(sse)["rule"] = []any{obj{"apply_server_side_encryption_by_default": []any{obj{}}}}
	}},
	{"S3_001", "staging", "no-encryption-resource", func(p *platformPlan) {
		p.remove("module.data.aws_s3_bucket_server_side_encryption_configuration.documents")
	}},
	{"S3_002", "dev", "public-policy-allowed", func(p *platformPlan) {
		p.after("module.data.aws_s3_bucket_public_access_block.documents")["block_public_policy"] = false
	}},
	{"S3_003", "prod", "versioning-suspended", func(p *platformPlan) {
		p.after("module.data.aws_s3_bucket_versioning.documents")["versioning_configuration"] = []any{obj{"status": "Suspended", "mfa_delete": nil}}
	}},
	{"S3_004", "dev", "no-secure-transport-condition", func(p *platformPlan) {
		doc := p.after("module.data.data.aws_iam_policy_document.documents_tls")
		doc["statement"].([]any)[0].(obj)["condition"] = []any{}
	}},
	{"RDS_001", "dev", "aws-managed-key", func(p *platformPlan) {
		c := "module.data.aws_rds_cluster.main"
		p.after(c)["kms_key_id"] = "alias/aws/rds"
		delete(p.unknown(c), "kms_key_id")
	}},
	{"RDS_002", "staging", "no-iam-auth", func(p *platformPlan) {
		p.after("module.data.aws_rds_cluster.main")["iam_database_authentication_enabled"] = false
	}},
	{"RDS_003", "dev", "public-instance", func(p *platformPlan) {
		p.after("module.data.aws_rds_cluster_instance.main[0]")["publicly_accessible"] = true
	}},
	{"RDS_004", "prod", "short-backups", func(p *platformPlan) {
		p.after("module.data.aws_rds_cluster.main")["backup_retention_period"] = 3
	}},
	{"RDS_005", "prod", "no-deletion-protection", func(p *platformPlan) {
		p.after("module.data.aws_rds_cluster.main")["deletion_protection"] = false
	}},
	{"RDSPROXY_001", "dev", "no-tls", func(p *platformPlan) {
		p.after("module.data.aws_db_proxy.main")["require_tls"] = false
	}},
	{"RDSPROXY_002", "staging", "iam-auth-disabled", func(p *platformPlan) {
		p.after("module.data.aws_db_proxy.main")["auth"].([]any)[0].(obj)["iam_auth"] = "DISABLED"
	}},
	{"ELASTICACHE_001", "dev", "plaintext", func(p *platformPlan) {
		p.after("module.data.aws_elasticache_replication_group.cache")["transit_encryption_enabled"] = false
	}},
	{"ELASTICACHE_002", "dev", "unencrypted-at-rest", func(p *platformPlan) {
		p.after("module.data.aws_elasticache_replication_group.cache")["at_rest_encryption_enabled"] = "false"
	}},
	{"ELASTICACHE_003", "dev", "no-auth", func(p *platformPlan) {
		g := "module.data.aws_elasticache_replication_group.cache"
		p.after(g)["auth_token"] = nil
		delete(p.unknown(g), "auth_token")
	}},
	{"ELASTICACHE_004", "prod", "no-failover", func(p *platformPlan) {
		p.after("module.data.aws_elasticache_replication_group.cache")["automatic_failover_enabled"] = false
	}},
	{"SG_001", "dev", "db-open-to-internet", func(p *platformPlan) {
		p.after("module.network.aws_security_group.db")["ingress"].([]any)[0].(obj)["cidr_blocks"] = []any{"0.0.0.0/0"}
	}},
	{"IAM_001", "dev", "admin-deploy-role", func(p *platformPlan) {
		p.after("module.cicd.aws_iam_role_policy.deploy")["policy"] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	}},
	{"IAM_002", "dev", "ci-user-access-key", func(p *platformPlan) {
		p.add("cicd", "aws_iam_user", "ci", obj{"name": "gitlab-ci", "tags_all": nil, "tags": nil}, obj{"id": true, "arn": true}, nil)
		p.add("cicd", "aws_iam_access_key", "ci", obj{"status": "Active"}, obj{"id": true, "secret": true, "user": true}, map[string][]string{"user": ref("aws_iam_user.ci", "name")})
	}},
	{"LAMBDA_001", "dev", "outside-vpc", func(p *platformPlan) {
		f := "module.api.aws_lambda_function.api"
		p.after(f)["vpc_config"] = []any{}
		p.unknown(f)["vpc_config"] = []any{}
	}},
	{"LAMBDA_002", "staging", "no-log-group", func(p *platformPlan) {
		p.remove("module.api.aws_cloudwatch_log_group.lambda")
	}},
	{"LAMBDA_003", "dev", "no-tracing", func(p *platformPlan) {
		p.after("module.api.aws_lambda_function.api")["tracing_config"] = []any{obj{"mode": "PassThrough"}}
	}},
	{"APIGW_001", "dev", "no-access-logs", func(p *platformPlan) {
		s := "module.api.aws_api_gateway_stage.live"
		p.after(s)["access_log_settings"] = []any{}
		p.unknown(s)["access_log_settings"] = []any{}
	}},
	{"APIGW_002", "prod", "no-waf", func(p *platformPlan) {
		p.remove("module.api.aws_wafv2_web_acl_association.api")
	}},
	{"APIGW_003", "dev", "tls-1-0", func(p *platformPlan) {
		p.after("module.api.aws_api_gateway_domain_name.api")["security_policy"] = "TLS_1_0"
	}},
	{"APIGW_004", "dev", "method-without-key", func(p *platformPlan) {
		p.after("module.api.aws_api_gateway_method.proxy")["api_key_required"] = false
	}},
	{"KMS_001", "dev", "no-rotation", func(p *platformPlan) {
		p.after("module.data.aws_kms_key.data")["enable_key_rotation"] = false
	}},
	{"SECRETS_001", "dev", "aws-managed-key", func(p *platformPlan) {
		s := "module.data.aws_secretsmanager_secret.db"
		p.after(s)["kms_key_id"] = nil
		delete(p.unknown(s), "kms_key_id")
	}},
	{"LOGS_001", "dev", "access-logs-never-expire", func(p *platformPlan) {
		p.after("module.api.aws_cloudwatch_log_group.access")["retention_in_days"] = 0
	}},
	{"TAGS_001", "dev", "missing-stack-tag", func(p *platformPlan) {
		delete(p.after("module.observability.aws_sns_topic.alarms")["tags_all"].(obj), "Stack")
	}},
	{"CHANGE_001", "dev", "bucket-destroyed", func(p *platformPlan) {
		for _, r := range []string{"aws_s3_bucket", "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_public_access_block", "aws_s3_bucket_versioning", "aws_s3_bucket_policy"} {
			p.setActions("module.data."+r+".documents", "delete")
		}
		p.remove("module.data.data.aws_iam_policy_document.documents_tls")
	}},
	{"CHANGE_002", "prod", "function-replaced", func(p *platformPlan) {
		p.setActions("module.api.aws_lambda_function.api", "create", "delete")
	}},
}

package policy

import (
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// This file answers the stacks' data sources: when Terraform reads each one, and what it reads.

// readData is the value of a data source: a policy document rendered when it is read during
// planning (else its json is unknown: it is read during apply), a lookup answered by lookupValues.
func (m *stackModule) readData(b *hclsyntax.Block, v cty.Value, atPlan bool) cty.Value {
	attrs := v.AsValueMap()
	if b.Labels[0] == "aws_iam_policy_document" {
		if atPlan {
			doc := renderPolicyDocument(v)
			attrs["json"], attrs["minified_json"], attrs["id"] = cty.StringVal(doc.indented), cty.StringVal(doc.minified), cty.StringVal(doc.id)
		} else {
			attrs["json"], attrs["minified_json"], attrs["id"] = cty.UnknownVal(cty.String), cty.UnknownVal(cty.String), cty.UnknownVal(cty.String)
		}
		return cty.ObjectVal(attrs)
	}
	for k, val := range lookupValues(m.stage, b.Labels[0], b.Labels[1], attrs) {
		attrs[k] = val
	}
	for k, val := range attrs {
		if !val.IsKnown() {
			// A lookup is read during planning: whatever lookupValues does not answer is absent.
			attrs[k] = cty.NullVal(cty.DynamicPseudoType)
		}
	}
	return cty.ObjectVal(attrs)
}

// dependsOnPending reports whether a body refers to a managed resource of the module, directly, through
// locals or through a data source that does: Terraform reads such a data source during apply, since the
// resource has changes pending.
func (m *stackModule) dependsOnPending(body *hclsyntax.Body) bool {
	seen := map[string]bool{}
	var refers func(vars []hcl.Traversal) bool
	refers = func(vars []hcl.Traversal) bool {
		for _, tr := range vars {
			subject, _, _ := splitReference(tr)
			if subject == "" || seen[subject] {
				continue
			}
			seen[subject] = true
			root := tr.RootName()
			switch {
			case root == "local":
				if e, ok := m.localExprs[strings.TrimPrefix(subject, "local.")]; ok && refers(e.Variables()) {
					return true
				}
			case root == "data":
				for _, b := range m.blocks {
					if b.Type == "data" && strings.HasPrefix(subject, blockAddress(b)) && refers(bodyVariables(b.Body)) {
						return true
					}
				}
			case strings.HasPrefix(root, "aws_"):
				return true
			}
		}
		return false
	}
	return refers(bodyVariables(body))
}

// bodyVariables lists the references of every argument in a body and its nested blocks.
func bodyVariables(body *hclsyntax.Body) []hcl.Traversal {
	var out []hcl.Traversal
	for _, a := range body.Attributes {
		out = append(out, a.Expr.Variables()...)
	}
	for _, b := range body.Blocks {
		out = append(out, bodyVariables(b.Body)...)
	}
	return out
}

const (
	account = "123456789012"
	region  = "eu-west-1"
)

// lookupValues answers the data sources the stacks read at plan time with what the earlier stacks
// of the stage built: the attributes the stacks read, named as those stacks name them.
func lookupValues(stage, typ, name string, cfg map[string]cty.Value) map[string]cty.Value {
	s := cty.StringVal
	prefix := "gitops-agent-" + stage
	id := func(kind string) string {
		return fmt.Sprintf("%s-%08x", kind, crc32.ChecksumIEEE([]byte(stage+typ+name)))
	}
	given := func(attr string) string {
		if v := cfg[attr]; v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			return v.AsString()
		}
		return ""
	}
	azs := map[string]int{"dev": 2, "staging": 2, "prod": 3}[stage]
	switch typ {
	case "aws_caller_identity":
		return map[string]cty.Value{"account_id": s(account), "id": s(account), "arn": s("arn:aws:sts::" + account + ":assumed-role/" + prefix + "-deploy/gitops-agent"), "user_id": s("AROAEXAMPLEROLEID:gitops-agent")}
	case "aws_partition":
		return map[string]cty.Value{"partition": s("aws"), "id": s("aws"), "dns_suffix": s("amazonaws.com"), "reverse_dns_prefix": s("com.amazonaws")}
	case "aws_region":
		return map[string]cty.Value{"region": s(region), "name": s(region), "id": s(region), "endpoint": s("ec2.eu-west-1.amazonaws.com"), "description": s("Europe (Ireland)")}
	case "aws_availability_zones":
		return map[string]cty.Value{"id": s(region), "names": cty.ListVal([]cty.Value{s("eu-west-1a"), s("eu-west-1b"), s("eu-west-1c")}), "zone_ids": cty.ListVal([]cty.Value{s("euw1-az1"), s("euw1-az2"), s("euw1-az3")})}
	case "aws_vpc":
		vpc := id("vpc")
		return map[string]cty.Value{"id": s(vpc), "arn": s("arn:aws:ec2:" + region + ":" + account + ":vpc/" + vpc)}
	case "aws_subnets":
		var ids []cty.Value
		for i := range azs {
			ids = append(ids, s(fmt.Sprintf("subnet-%s%d", id("")[1:], i)))
		}
		return map[string]cty.Value{"id": s(region), "ids": cty.ListVal(ids)}
	case "aws_security_group":
		sg := id("sg")
		return map[string]cty.Value{"id": s(sg), "arn": s("arn:aws:ec2:" + region + ":" + account + ":security-group/" + sg)}
	case "aws_vpc_endpoint":
		return map[string]cty.Value{"id": s(id("vpce")), "prefix_list_id": s("pl-6da54004")}
	case "aws_db_proxy":
		n := given("name")
		return map[string]cty.Value{"id": s(n), "arn": s("arn:aws:rds:" + region + ":" + account + ":db-proxy:" + id("prx")), "endpoint": s(n + ".proxy-c1x2y3z4.eu-west-1.rds.amazonaws.com")}
	case "aws_rds_cluster":
		n := given("cluster_identifier")
		return map[string]cty.Value{"id": s(n), "arn": s("arn:aws:rds:" + region + ":" + account + ":cluster:" + n), "database_name": s("documents"), "master_username": s("app_admin")}
	case "aws_elasticache_replication_group":
		n := given("replication_group_id")
		var members []cty.Value
		for i := range map[string]int{"dev": 1, "staging": 2, "prod": 3}[stage] {
			members = append(members, s(fmt.Sprintf("%s-%03d", n, i+1)))
		}
		return map[string]cty.Value{
			"id": s(n), "arn": s("arn:aws:elasticache:" + region + ":" + account + ":replicationgroup:" + n), "port": cty.NumberIntVal(6379),
			"member_clusters": cty.SetVal(members), "primary_endpoint_address": s("master." + n + ".abc123.euw1.cache.amazonaws.com"),
		}
	case "aws_s3_bucket":
		b := given("bucket")
		return map[string]cty.Value{"id": s(b), "arn": s("arn:aws:s3:::" + b)}
	case "aws_kms_alias":
		key := fmt.Sprintf("%08x-0000-4000-8000-%012x", crc32.ChecksumIEEE([]byte(stage+name)), crc32.ChecksumIEEE([]byte(name)))
		return map[string]cty.Value{"id": s(given("name")), "arn": s("arn:aws:kms:" + region + ":" + account + ":" + given("name")), "target_key_id": s(key), "target_key_arn": s("arn:aws:kms:" + region + ":" + account + ":key/" + key)}
	case "aws_route53_zone":
		// The public zone the agent's webhook name lives in, created outside the agent stack.
		zone := "Z" + strings.ToUpper(id("")[1:]) + "EXAMPLE"
		return map[string]cty.Value{"id": s(zone), "zone_id": s(zone), "name": s(given("name")), "arn": s("arn:aws:route53:::hostedzone/" + zone)}
	case "aws_iam_role":
		// A role of the cicd stack (the agent role the agent's tasks run as), found by name.
		n := given("name")
		return map[string]cty.Value{"id": s(n), "name": s(n), "arn": s("arn:aws:iam::" + account + ":role/" + n), "unique_id": s("AROA" + strings.ToUpper(id("")[1:]) + "EXAMPLE")}
	case "aws_ssm_parameter":
		return map[string]cty.Value{"id": s(given("name")), "arn": s("arn:aws:ssm:" + region + ":" + account + ":parameter" + given("name")), "value": s("example-external-id"), "type": s("SecureString")}
	}
	return nil
}

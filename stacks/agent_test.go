package stacks_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// The agent stack's security properties, checked on its HCL (and the cicd stack's): the WAF in front of
// the webhook endpoint, the admin listener out of the internet's reach, and a task role that can do
// nothing but assume the stages' roles with the external id.

// evalModule is a module whose variables (stage tfvars, else defaults) and locals are evaluated; what
// depends on AWS (data sources, resources' attributes) is unknown.
type evalModule struct {
	*module
	ctx *hcl.EvalContext
}

func loadEval(t testing.TB, dir, stage string) *evalModule {
	t.Helper()
	m := loadModule(t, dir)
	tfvarsPath := filepath.Join(dir, "stages", stage+".tfvars")
	f, diags := hclparse.NewParser().ParseHCL([]byte(readFile(t, tfvarsPath)), tfvarsPath)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", tfvarsPath, diags.Error())
	}
	tfvars := f.Body.(*hclsyntax.Body).Attributes
	vars := map[string]cty.Value{}
	for _, b := range m.blocks("variable") {
		var expr hcl.Expression
		if a, ok := tfvars[b.Labels[0]]; ok {
			expr = a.Expr
		} else if a, ok := b.Body.Attributes["default"]; ok {
			expr = a.Expr
		} else {
			t.Fatalf("%s: variable %s has no value for stage %s", dir, b.Labels[0], stage)
		}
		v, diags := expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%s: variable %s: %s", dir, b.Labels[0], diags.Error())
		}
		if a, ok := b.Body.Attributes["type"]; ok {
			ty, diags := typeexpr.TypeConstraint(a.Expr)
			if diags.HasErrors() {
				t.Fatalf("%s: variable %s: %s", dir, b.Labels[0], diags.Error())
			}
			var err error
			if v, err = convert.Convert(v, ty); err != nil {
				t.Fatalf("%s: variable %s: %v", dir, b.Labels[0], err)
			}
		}
		vars[b.Labels[0]] = v
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars), "data": cty.DynamicVal},
		Functions: map[string]function.Function{
			"concat": stdlib.ConcatFunc, "flatten": stdlib.FlattenFunc, "join": stdlib.JoinFunc,
			"length": stdlib.LengthFunc, "merge": stdlib.MergeFunc, "slice": stdlib.SliceFunc,
			"split": stdlib.SplitFunc, "toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
			"contains": stdlib.ContainsFunc, "keys": stdlib.KeysFunc, "lookup": stdlib.LookupFunc,
		},
	}
	for _, b := range m.blocks("resource") {
		ctx.Variables[b.Labels[0]] = cty.DynamicVal
	}
	localExprs := map[string]hcl.Expression{}
	for _, b := range m.blocks("locals") {
		for n, a := range b.Body.Attributes {
			localExprs[n] = a.Expr
		}
	}
	locals := map[string]cty.Value{}
	for n := range localExprs {
		locals[n] = cty.DynamicVal
	}
	// Each round settles the locals that use locals settled in an earlier one.
	for range len(localExprs) + 1 {
		ctx.Variables["local"] = cty.ObjectVal(locals)
		next := map[string]cty.Value{}
		for n, e := range localExprs {
			v, diags := e.Value(ctx)
			if diags.HasErrors() {
				v = cty.DynamicVal
			}
			next[n] = v
		}
		locals = next
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return &evalModule{module: m, ctx: ctx}
}

// eval evaluates an expression of the module; it fails the test on an error.
func (e *evalModule) eval(t testing.TB, expr hcl.Expression, ctx *hcl.EvalContext) cty.Value {
	t.Helper()
	if ctx == nil {
		ctx = e.ctx
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", expr.Range(), diags.Error())
	}
	return v
}

// attr evaluates a block's argument, which must be set.
func (e *evalModule) attr(t testing.TB, b *hclsyntax.Block, name string, ctx *hcl.EvalContext) cty.Value {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		t.Fatalf("%s: %s %s has no %s", b.TypeRange, b.Type, strings.Join(b.Labels, "."), name)
	}
	return e.eval(t, a.Expr, ctx)
}

// local is the evaluated value of a local, which must be known.
func (e *evalModule) local(t testing.TB, name string) cty.Value {
	t.Helper()
	v := e.ctx.Variables["local"].GetAttr(name)
	if !v.IsWhollyKnown() {
		t.Fatalf("%s: local.%s is not known without AWS", e.dir, name)
	}
	return v
}

// structure is the evaluated value of a local whose shape is known, though some of its leaves may
// depend on AWS (unknown).
func (e *evalModule) structure(t testing.TB, name string) cty.Value {
	t.Helper()
	v := e.ctx.Variables["local"].GetAttr(name)
	if !v.IsKnown() || v.IsNull() {
		t.Fatalf("%s: local.%s cannot be evaluated", e.dir, name)
	}
	return v
}

// instances evaluates a block's for_each into one context per instance (each.key, each.value); a block
// without for_each has one, the module's.
func (e *evalModule) instances(t testing.TB, b *hclsyntax.Block) []*hcl.EvalContext {
	t.Helper()
	a, ok := b.Body.Attributes["for_each"]
	if !ok {
		return []*hcl.EvalContext{e.ctx}
	}
	v := e.eval(t, a.Expr, nil)
	if !v.IsWhollyKnown() {
		t.Fatalf("%s: for_each is not known without AWS", a.Expr.Range())
	}
	var out []*hcl.EvalContext
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		if v.Type().IsSetType() {
			k = val
		}
		child := e.ctx.NewChild()
		child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": val})}
		out = append(out, child)
	}
	return out
}

// resource returns the resource (or, with typ "data.X", data source) block of that type and name.
func (m *module) resource(t testing.TB, typ, name string) *hclsyntax.Block {
	t.Helper()
	kind := "resource"
	if after, ok := strings.CutPrefix(typ, "data."); ok {
		kind, typ = "data", after
	}
	for _, b := range m.blocks(kind) {
		if b.Labels[0] == typ && b.Labels[1] == name {
			return b
		}
	}
	t.Fatalf("%s: no %s %s.%s", m.dir, kind, typ, name)
	return nil
}

// ofType lists the resource blocks of a type.
func (m *module) ofType(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks("resource") {
		if b.Labels[0] == typ {
			out = append(out, b)
		}
	}
	return out
}

// refs lists what an expression refers to, as "root.attr.attr" without index steps, e.g.
// "aws_lb.agent.arn" or "data.aws_iam_role.agent.arn".
func refs(e hcl.Expression) []string {
	var out []string
	for _, tr := range e.Variables() {
		parts := []string{tr.RootName()}
		for _, step := range tr[1:] {
			if a, ok := step.(hcl.TraverseAttr); ok {
				parts = append(parts, a.Name)
			}
		}
		out = append(out, strings.Join(parts, "."))
	}
	return out
}

// attrRefs is refs of a block's argument, empty when it is not set.
func attrRefs(b *hclsyntax.Block, name string) []string {
	if a, ok := b.Body.Attributes[name]; ok {
		return refs(a.Expr)
	}
	return nil
}

// children lists the nested blocks of a type, in order.
func children(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

// descendants lists the nested blocks of a type at any depth.
func descendants(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
		out = append(out, descendants(c, typ)...)
	}
	return out
}

// referencedBlock returns the name of the block of type typ an argument refers to through attribute
// attr (e.g. aws_lb.NAME.arn), or "".
func referencedBlock(b *hclsyntax.Block, arg, typ, attr string) string {
	for _, r := range attrRefs(b, arg) {
		parts := strings.Split(strings.TrimPrefix(r, "data."), ".")
		if strings.HasPrefix(r, "data.") != strings.HasPrefix(typ, "data.") {
			continue
		}
		if len(parts) == 3 && parts[0] == strings.TrimPrefix(typ, "data.") && parts[2] == attr {
			return parts[1]
		}
	}
	return ""
}

func literalString(t testing.TB, b *hclsyntax.Block, name string) string {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		return ""
	}
	v, ok := literal(a.Expr)
	if !ok || v.Type() != cty.String {
		t.Fatalf("%s: %s must be a literal string", a.Expr.Range(), name)
	}
	return v.AsString()
}

// TestAgentWafGuardsWebhooks: the load balancer's web ACL blocks by default and lets through only GitLab's
// webhook ranges, POSTing to /webhooks/gitlab; and it is associated with the load balancer.
func TestAgentWafGuardsWebhooks(t *testing.T) {
	e := loadEval(t, "agent", "prod")
	assocs := e.ofType("aws_wafv2_web_acl_association")
	if len(assocs) != 1 {
		t.Fatalf("want one aws_wafv2_web_acl_association, got %d", len(assocs))
	}
	lbs := e.ofType("aws_lb")
	if len(lbs) != 1 {
		t.Fatalf("want one aws_lb, got %d", len(lbs))
	}
	if got := referencedBlock(assocs[0], "resource_arn", "aws_lb", "arn"); got != lbs[0].Labels[1] {
		t.Errorf("%s: resource_arn must be aws_lb.%s.arn, refers to %v", assocs[0].TypeRange, lbs[0].Labels[1], attrRefs(assocs[0], "resource_arn"))
	}
	aclName := referencedBlock(assocs[0], "web_acl_arn", "aws_wafv2_web_acl", "arn")
	if aclName == "" {
		t.Fatalf("%s: web_acl_arn must be an aws_wafv2_web_acl's arn, refers to %v", assocs[0].TypeRange, attrRefs(assocs[0], "web_acl_arn"))
	}
	acl := e.resource(t, "aws_wafv2_web_acl", aclName)
	if got := literalString(t, acl, "scope"); got != "REGIONAL" {
		t.Errorf("%s: scope = %q, want REGIONAL (a load balancer's)", acl.TypeRange, got)
	}
	defaults := children(acl, "default_action")
	if len(defaults) != 1 || len(children(defaults[0], "block")) != 1 || len(children(defaults[0], "allow")) != 0 {
		t.Errorf("%s: default_action must be block {}", acl.TypeRange)
	}
	if len(children(acl, "dynamic")) > 0 {
		t.Errorf("%s: rules must be written out, so each can be checked", acl.TypeRange)
	}
	allowing := 0
	for _, rule := range children(acl, "rule") {
		name := literalString(t, rule, "name")
		actions := children(rule, "action")
		if len(actions) != 1 || len(children(actions[0], "block")) == 1 {
			continue // a blocking rule (or an override) lets nothing more through
		}
		allowing++
		// Allowing (or counting, which lets the request on to the default block) only when every part
		// of an and_statement holds: the GitLab ranges, the webhook path, POST.
		statements := children(rule, "statement")
		if len(statements) != 1 || len(children(statements[0], "and_statement")) != 1 {
			t.Errorf("rule %s: an allowing rule's statement must be one and_statement", name)
			continue
		}
		parts := children(children(statements[0], "and_statement")[0], "statement")
		var fromGitlab, onPath, isPost bool
		for _, p := range parts {
			for _, ip := range children(p, "ip_set_reference_statement") {
				set := referencedBlock(ip, "arn", "aws_wafv2_ip_set", "arn")
				if set == "" {
					continue
				}
				addrs := attrRefs(e.resource(t, "aws_wafv2_ip_set", set), "addresses")
				fromGitlab = fromGitlab || slices.Equal(addrs, []string{"var.webhook_source_cidrs"})
			}
			for _, bm := range children(p, "byte_match_statement") {
				fields := children(bm, "field_to_match")
				if len(fields) != 1 || literalString(t, bm, "positional_constraint") != "EXACTLY" {
					continue
				}
				switch {
				case len(children(fields[0], "uri_path")) == 1 && literalString(t, bm, "search_string") == "/webhooks/gitlab":
					onPath = true
				case len(children(fields[0], "method")) == 1 && literalString(t, bm, "search_string") == "POST":
					isPost = true
				}
			}
		}
		if !fromGitlab || !onPath || !isPost {
			t.Errorf("rule %s allows requests not all from var.webhook_source_cidrs (%v), to exactly /webhooks/gitlab (%v), with POST (%v)", name, fromGitlab, onPath, isPost)
		}
	}
	if allowing == 0 {
		t.Errorf("%s: no rule lets GitLab's webhooks through", acl.TypeRange)
	}
	// The ranges default to GitLab.com's and never to the whole internet.
	cidrs := e.ctx.Variables["var"].GetAttr("webhook_source_cidrs")
	for it := cidrs.ElementIterator(); it.Next(); {
		_, c := it.Element()
		if strings.HasPrefix(c.AsString(), "0.0.0.0/") || strings.HasPrefix(c.AsString(), "::/") {
			t.Errorf("webhook_source_cidrs holds %s", c.AsString())
		}
	}
}

// TestAgentAdminPortNotPublic: the admin listener is on a port no load balancer listener or target group
// uses, the tasks get no public address and sit in private subnets routed through NAT, only
// admin_source_cidrs (by default the VPC) reach that port, and nothing in the stack accepts the whole
// internet.
func TestAgentAdminPortNotPublic(t *testing.T) {
	e := loadEval(t, "agent", "prod")
	admin := e.local(t, "admin_port")
	webhook := e.local(t, "webhook_port")
	if admin.Equals(webhook).True() {
		t.Fatalf("the admin and webhook ports are both %s", admin.GoString())
	}

	// The agent container listens for admin on that port and publishes only the webhook port.
	var agent cty.Value
	defs := e.structure(t, "container_definitions")
	for it := defs.ElementIterator(); it.Next(); {
		_, c := it.Element()
		if c.GetAttr("name").AsString() == "agent" {
			agent = c
		}
	}
	if agent == cty.NilVal {
		t.Fatal("local.container_definitions has no container named agent")
	}
	env := map[string]string{}
	for it := agent.GetAttr("environment").ElementIterator(); it.Next(); {
		_, kv := it.Element()
		if v := kv.GetAttr("value"); v.IsKnown() {
			env[kv.GetAttr("name").AsString()] = v.AsString()
		}
	}
	if want := fmt.Sprintf(":%s", admin.AsBigFloat().Text('f', 0)); env["GITOPS_ADMIN_LISTEN"] != want {
		t.Errorf("GITOPS_ADMIN_LISTEN = %q, want %q", env["GITOPS_ADMIN_LISTEN"], want)
	}
	for it := agent.GetAttr("portMappings").ElementIterator(); it.Next(); {
		_, pm := it.Element()
		if !pm.GetAttr("containerPort").Equals(webhook).True() {
			t.Errorf("the agent container publishes port %s; only the webhook port may be", pm.GetAttr("containerPort").GoString())
		}
	}

	// No load balancer listener, target group or service load balancer on the admin port.
	for _, l := range e.ofType("aws_lb_listener") {
		if e.attr(t, l, "port", nil).Equals(admin).True() {
			t.Errorf("%s: a load balancer listener on the admin port", l.TypeRange)
		}
		if p := e.attr(t, l, "protocol", nil); p.AsString() != "HTTPS" {
			t.Errorf("%s: listener protocol %s, want HTTPS", l.TypeRange, p.AsString())
		}
	}
	for _, tg := range e.ofType("aws_lb_target_group") {
		if !e.attr(t, tg, "port", nil).Equals(webhook).True() {
			t.Errorf("%s: a target group on a port other than the webhook port", tg.TypeRange)
		}
		for _, hc := range children(tg, "health_check") {
			if p := literalString(t, hc, "port"); p != "traffic-port" {
				t.Errorf("%s: health check on port %s, want traffic-port", hc.TypeRange, p)
			}
		}
	}
	services := e.ofType("aws_ecs_service")
	if len(services) != 1 {
		t.Fatalf("want one aws_ecs_service, got %d", len(services))
	}
	svc := services[0]
	for _, lb := range children(svc, "load_balancer") {
		if !e.attr(t, lb, "container_port", nil).Equals(webhook).True() {
			t.Errorf("%s: the service's load balancer targets a port other than the webhook port", lb.TypeRange)
		}
	}

	// The tasks: no public address, private subnets only, whose routes to the internet go through NAT.
	nets := children(svc, "network_configuration")
	if len(nets) != 1 {
		t.Fatalf("%s: want one network_configuration", svc.TypeRange)
	}
	if v := e.attr(t, nets[0], "assign_public_ip", nil); v != cty.False {
		t.Errorf("%s: assign_public_ip must be false", nets[0].TypeRange)
	}
	subnets := attrRefs(nets[0], "subnets")
	if len(subnets) == 0 {
		t.Errorf("%s: subnets refers to no subnet", nets[0].TypeRange)
	}
	for _, r := range subnets {
		if r != "aws_subnet.private" && r != "aws_subnet.private.id" {
			t.Errorf("%s: the tasks' subnets refer to %s; only aws_subnet.private", nets[0].TypeRange, r)
		}
	}
	if v := e.attr(t, e.resource(t, "aws_subnet", "private"), "map_public_ip_on_launch", nil); v != cty.False {
		t.Errorf("aws_subnet.private: map_public_ip_on_launch must be false")
	}
	for _, r := range e.ofType("aws_route") {
		for _, table := range attrRefs(r, "route_table_id") {
			if strings.HasPrefix(table, "aws_route_table.private") && len(attrRefs(r, "gateway_id")) > 0 {
				t.Errorf("%s: a private route table routes to an internet gateway", r.TypeRange)
			}
		}
	}
	for _, a := range e.ofType("aws_route_table_association") {
		if slices.Contains(attrRefs(a, "subnet_id"), "aws_subnet.private.id") && !slices.Contains(attrRefs(a, "route_table_id"), "aws_route_table.private.id") {
			t.Errorf("%s: a private subnet is associated with a route table other than aws_route_table.private", a.TypeRange)
		}
	}

	// Ingress: standalone rules only, none open to the internet, and on the admin port only from
	// admin_source_cidrs, which default to the VPC's CIDR.
	if rules := e.ofType("aws_security_group_rule"); len(rules) > 0 {
		t.Errorf("%s: use aws_vpc_security_group_ingress_rule, which the checks below read", rules[0].TypeRange)
	}
	for _, sg := range e.ofType("aws_security_group") {
		if len(children(sg, "ingress")) > 0 || len(children(sg, "dynamic")) > 0 {
			t.Errorf("%s: inline ingress; use aws_vpc_security_group_ingress_rule", sg.TypeRange)
		}
	}
	vpcCIDR := e.ctx.Variables["var"].GetAttr("vpc_cidr")
	if got := e.local(t, "admin_source_cidrs"); !got.Equals(cty.TupleVal([]cty.Value{vpcCIDR})).True() && !got.Equals(cty.ListVal([]cty.Value{vpcCIDR})).True() {
		t.Errorf("local.admin_source_cidrs = %s by default, want [var.vpc_cidr]", got.GoString())
	}
	adminRules := 0
	for _, r := range e.ofType("aws_vpc_security_group_ingress_rule") {
		for _, ctx := range e.instances(t, r) {
			for _, attr := range []string{"cidr_ipv4", "cidr_ipv6"} {
				if a, ok := r.Body.Attributes[attr]; ok {
					if v := e.eval(t, a.Expr, ctx); v.IsKnown() && (v.AsString() == "0.0.0.0/0" || v.AsString() == "::/0") {
						t.Errorf("%s: ingress from %s", r.TypeRange, v.AsString())
					}
				}
			}
			from, to := e.attr(t, r, "from_port", ctx), e.attr(t, r, "to_port", ctx)
			if from.GreaterThan(admin).True() || to.LessThan(admin).True() {
				continue
			}
			adminRules++
			if !slices.Equal(attrRefs(r, "for_each"), []string{"local.admin_source_cidrs"}) || !slices.Equal(attrRefs(r, "cidr_ipv4"), []string{"each.value"}) {
				t.Errorf("%s: ingress on the admin port must come from local.admin_source_cidrs (for_each, cidr_ipv4 = each.value)", r.TypeRange)
			}
			for _, other := range []string{"cidr_ipv6", "referenced_security_group_id", "prefix_list_id"} {
				if _, ok := r.Body.Attributes[other]; ok {
					t.Errorf("%s: ingress on the admin port sets %s", r.TypeRange, other)
				}
			}
		}
	}
	if adminRules == 0 {
		t.Errorf("no ingress rule lets admin_source_cidrs reach the admin port")
	}
}

// TestAgentTaskRoleAssumesStageRolesOnly: the tasks run as the cicd stack's agent role, which may only
// assume (and tag sessions of) the stages' deploy and plan roles, whose trust requires the external id;
// the agent receives that id from SSM as a secret, never as plain configuration.
func TestAgentTaskRoleAssumesStageRolesOnly(t *testing.T) {
	agent := loadEval(t, "agent", "prod")
	tds := agent.ofType("aws_ecs_task_definition")
	if len(tds) != 1 {
		t.Fatalf("want one aws_ecs_task_definition, got %d", len(tds))
	}
	roleData := referencedBlock(tds[0], "task_role_arn", "data.aws_iam_role", "arn")
	if roleData == "" {
		t.Fatalf("%s: task_role_arn must be data.aws_iam_role.<name>.arn (the cicd stack's role), refers to %v", tds[0].TypeRange, attrRefs(tds[0], "task_role_arn"))
	}
	taskRole := agent.attr(t, agent.resource(t, "data.aws_iam_role", roleData), "name", nil).AsString()

	cicd := loadEval(t, "cicd", "prod")
	var role *hclsyntax.Block
	for _, r := range cicd.ofType("aws_iam_role") {
		for _, ctx := range cicd.instances(t, r) {
			if v := cicd.attr(t, r, "name", ctx); v.IsKnown() && v.AsString() == taskRole {
				role = r
			}
		}
	}
	if role == nil {
		t.Fatalf("stacks/cicd has no aws_iam_role named %q", taskRole)
	}
	roleKey := "aws_iam_role." + role.Labels[1]
	for _, attr := range []string{"managed_policy_arns", "inline_policy"} {
		if _, ok := role.Body.Attributes[attr]; ok || len(children(role, attr)) > 0 {
			t.Errorf("%s: the agent role sets %s", role.TypeRange, attr)
		}
	}
	for _, typ := range []string{"aws_iam_role_policy_attachment", "aws_iam_policy_attachment"} {
		for _, att := range cicd.ofType(typ) {
			for _, arg := range []string{"role", "roles"} {
				for _, r := range attrRefs(att, arg) {
					if strings.HasPrefix(r, roleKey+".") {
						t.Errorf("%s: a managed policy is attached to the agent role", att.TypeRange)
					}
				}
			}
		}
	}
	var policies []*hclsyntax.Block
	for _, p := range cicd.ofType("aws_iam_role_policy") {
		if slices.ContainsFunc(attrRefs(p, "role"), func(r string) bool { return strings.HasPrefix(r, roleKey+".") }) {
			policies = append(policies, p)
		}
	}
	if len(policies) != 1 {
		t.Fatalf("want one inline policy on %s, got %d", roleKey, len(policies))
	}
	doc := referencedBlock(policies[0], "policy", "data.aws_iam_policy_document", "json")
	if doc == "" {
		t.Fatalf("%s: policy must be an aws_iam_policy_document's json", policies[0].TypeRange)
	}
	assumable := map[string]bool{}
	statements := children(cicd.resource(t, "data.aws_iam_policy_document", doc), "statement")
	if len(statements) == 0 {
		t.Fatalf("data.aws_iam_policy_document.%s has no statement", doc)
	}
	for _, s := range statements {
		if eff := literalString(t, s, "effect"); eff != "" && eff != "Allow" {
			continue
		}
		for _, attr := range []string{"not_actions", "not_resources"} {
			if _, ok := s.Body.Attributes[attr]; ok {
				t.Errorf("%s: the agent role's policy uses %s", s.TypeRange, attr)
			}
		}
		actions := cicd.attr(t, s, "actions", nil)
		for it := actions.ElementIterator(); it.Next(); {
			_, a := it.Element()
			if a.AsString() != "sts:AssumeRole" && a.AsString() != "sts:TagSession" {
				t.Errorf("%s: the agent role may call %s; only sts:AssumeRole and sts:TagSession", s.TypeRange, a.AsString())
			}
		}
		targets := attrRefs(s, "resources")
		if len(targets) == 0 {
			t.Errorf("%s: resources must name the stages' roles, not literals", s.TypeRange)
		}
		for _, r := range targets {
			switch {
			case r == "aws_iam_role.deploy" || r == "aws_iam_role.plan":
				assumable[r] = true
			case r == "r" || r == "r.arn": // the for expression's iterator over those roles
			default:
				t.Errorf("%s: the agent role may assume %s; only aws_iam_role.deploy and aws_iam_role.plan", s.TypeRange, r)
			}
		}
	}
	for _, want := range []string{"deploy", "plan"} {
		if !assumable["aws_iam_role."+want] {
			t.Errorf("the agent role cannot assume the %s roles", want)
			continue
		}
		r := cicd.resource(t, "aws_iam_role", want)
		trust := referencedBlock(r, "assume_role_policy", "data.aws_iam_policy_document", "json")
		if trust == "" {
			t.Errorf("%s: assume_role_policy must be an aws_iam_policy_document's json", r.TypeRange)
			continue
		}
		for _, s := range children(cicd.resource(t, "data.aws_iam_policy_document", trust), "statement") {
			for _, p := range children(s, "principals") {
				if ids := attrRefs(p, "identifiers"); !slices.Equal(ids, []string{roleKey + ".arn"}) {
					t.Errorf("%s: the %s roles trust %v; only the agent role", p.TypeRange, want, ids)
				}
			}
			requiresID := false
			for _, c := range children(s, "condition") {
				if literalString(t, c, "test") == "StringEquals" && literalString(t, c, "variable") == "sts:ExternalId" && len(attrRefs(c, "values")) > 0 {
					requiresID = true
				}
			}
			if !requiresID {
				t.Errorf("%s: the trust of the %s roles does not require sts:ExternalId (StringEquals, from the SSM parameter)", s.TypeRange, want)
			}
		}
	}

	// The external id reaches the agent only as a secret from the SSM parameter.
	defs := agent.structure(t, "container_definitions")
	for it := defs.ElementIterator(); it.Next(); {
		_, c := it.Element()
		if !c.Type().HasAttribute("environment") {
			continue
		}
		for it := c.GetAttr("environment").ElementIterator(); it.Next(); {
			_, kv := it.Element()
			if kv.GetAttr("name").AsString() == "GITOPS_AWS_EXTERNAL_ID" {
				t.Errorf("container %s: GITOPS_AWS_EXTERNAL_ID in plain environment", c.GetAttr("name").AsString())
			}
		}
	}
	if !strings.Contains(string(agent.src[filepath.Join("agent", "ecs.tf")]), `name = "GITOPS_AWS_EXTERNAL_ID", valueFrom = local.external_id_parameter_arn`) {
		t.Errorf("agent/ecs.tf: the agent container must get GITOPS_AWS_EXTERNAL_ID from secrets, valueFrom local.external_id_parameter_arn")
	}
}

// TestIAMPolicySizes: every IAM policy the offline plan of prod knows fits IAM's limits: 6144
// characters for a managed policy, 10240 for all inline policies of a role, whitespace not counted.
func TestIAMPolicySizes(t *testing.T) {
	var plan struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Type    string `json:"type"`
			Change  struct {
				After map[string]any `json:"after"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join("..", "policies", "testdata", "plan-prod.json"))), &plan); err != nil {
		t.Fatal(err)
	}
	inline := map[string]int{}
	checked := 0
	for _, rc := range plan.ResourceChanges {
		doc, ok := rc.Change.After["policy"].(string)
		if !ok || (rc.Type != "aws_iam_policy" && rc.Type != "aws_iam_role_policy") {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatalf("%s: %v", rc.Address, err)
		}
		min, _ := json.Marshal(v)
		checked++
		if rc.Type == "aws_iam_policy" && len(min) > 6144 {
			t.Errorf("%s: %d characters, over the 6144 of a managed policy", rc.Address, len(min))
		}
		if role, ok := rc.Change.After["role"].(string); ok {
			inline[role] += len(min)
		}
	}
	for role, n := range inline {
		if n > 10240 {
			t.Errorf("role %s: inline policies of %d characters, over IAM's 10240", role, n)
		}
	}
	if checked == 0 {
		t.Fatal("no IAM policy known in plan-prod.json")
	}
	if !strings.Contains(readFile(t, filepath.Join("..", "policies", "testdata", "plan-prod.json")), `"module.cicd.aws_iam_policy.deploy_agent"`) {
		t.Error("plan-prod.json has no deploy_agent policy")
	}
}

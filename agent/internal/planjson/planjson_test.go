package planjson

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// assertNoSecret fails when any rendered value of plan contains one of secrets.
func assertNoSecret(t testing.TB, plan *gitops.Plan, secrets ...string) {
	t.Helper()
	check := func(where string, a gitops.AttributeChange) {
		for _, s := range secrets {
			if strings.Contains(a.Before, s) || strings.Contains(a.After, s) {
				t.Errorf("%s %s shows secret %q", where, a.Path, s)
			}
		}
	}
	for _, c := range plan.Changes {
		for _, a := range c.Attributes {
			check(c.Address, a)
		}
	}
	for _, a := range plan.Outputs {
		check("output", a)
	}
}

func TestParseAWSFixture(t *testing.T) {
	t.Parallel()
	plan, err := Parse(readFixture(t, "aws_stateful.json"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &gitops.Plan{
		Summary: gitops.PlanSummary{Import: 1, Add: 1, Change: 2, Destroy: 3, Forget: 1},
		Changes: []gitops.ResourceChange{
			{Address: "aws_db_instance.main", Type: "aws_db_instance", Action: gitops.ActionReplace, Stateful: true,
				ReplacePaths: []string{"storage_encrypted"},
				Attributes: []gitops.AttributeChange{
					{Path: "arn", Unknown: true},
					{Path: "endpoint", Unknown: true},
					{Path: "password", Sensitive: true},
					{Path: "storage_encrypted", Before: "false", After: "true"},
				}},
			{Address: "aws_ecs_task_definition.app", Type: "aws_ecs_task_definition", Action: gitops.ActionUpdate,
				Attributes: []gitops.AttributeChange{
					{Path: "container[0].environment[0].value", Sensitive: true},
					{Path: "container[0].environment[1].value", Before: `"blue"`, After: `"green"`},
				}},
			{Address: "aws_instance.web (deposed object 00000001)", Type: "aws_instance", Action: gitops.ActionDelete},
			{Address: "aws_kms_key.main", Type: "aws_kms_key", Action: gitops.ActionForget, Stateful: true},
			{Address: "aws_route53_zone.main", Type: "aws_route53_zone", Action: gitops.ActionImport, Importing: true, Stateful: true,
				Attributes: []gitops.AttributeChange{{Path: "name", After: `"example.com"`}}},
			{Address: "aws_s3_bucket.logs", Type: "aws_s3_bucket", Action: gitops.ActionDelete, Stateful: true},
			{Address: "aws_secretsmanager_secret_version.api", Type: "aws_secretsmanager_secret_version", Action: gitops.ActionUpdate,
				Attributes: []gitops.AttributeChange{
					{Path: "secret_string", Sensitive: true},
					{Path: "version_id", Unknown: true},
				}},
			{Address: "data.aws_iam_policy_document.assume", Type: "aws_iam_policy_document", Action: gitops.ActionRead,
				Attributes: []gitops.AttributeChange{
					{Path: "json", Unknown: true},
					{Path: "version", After: `"2012-10-17"`},
				}},
		},
		Outputs: []gitops.AttributeChange{
			{Path: "db_endpoint", Before: `"app-db.abc.eu-west-1.rds.amazonaws.com:5432"`, Unknown: true},
			{Path: "db_password", Sensitive: true},
		},
	}
	if diff := cmp.Diff(want, plan); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	assertNoSecret(t, plan, "db-password", "token", "s3cr3t-from-variables", "literal-constant-password")
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change string // one resource change's "change" object
		want   []gitops.AttributeChange
	}{
		{
			name:   "nested sensitive parent masks everything below",
			change: `{"actions":["update"],"before":{"cfg":{"a":"1","b":{"c":"x"}}},"after":{"cfg":{"a":"2","b":{"c":"y"}}},"after_unknown":{},"before_sensitive":{"cfg":{"b":true}},"after_sensitive":{"cfg":{"b":true}}}`,
			want: []gitops.AttributeChange{
				{Path: "cfg.a", Before: `"1"`, After: `"2"`},
				{Path: "cfg.b", Sensitive: true},
			},
		},
		{
			name:   "value becomes sensitive",
			change: `{"actions":["update"],"before":{"v":"same"},"after":{"v":"same"},"after_unknown":{},"before_sensitive":{},"after_sensitive":{"v":true}}`,
			want:   []gitops.AttributeChange{{Path: "v", Sensitive: true}},
		},
		{
			name:   "unknown with sensitive before",
			change: `{"actions":["update"],"before":{"v":"pw"},"after":{},"after_unknown":{"v":true},"before_sensitive":{"v":true},"after_sensitive":{}}`,
			want:   []gitops.AttributeChange{{Path: "v", Sensitive: true, Unknown: true}},
		},
		{
			name:   "keys that are not identifiers are quoted",
			change: `{"actions":["update"],"before":{"tags":{"k8s.io/role":"a","Name":"x"}},"after":{"tags":{"k8s.io/role":"b","Name":"x"}},"after_unknown":{},"before_sensitive":{},"after_sensitive":{}}`,
			want:   []gitops.AttributeChange{{Path: `tags["k8s.io/role"]`, Before: `"a"`, After: `"b"`}},
		},
		{
			name:   "attribute removed and added",
			change: `{"actions":["update"],"before":{"a":"x","n":1.50},"after":{"b":true,"n":1.50},"after_unknown":{},"before_sensitive":{},"after_sensitive":{}}`,
			want: []gitops.AttributeChange{
				{Path: "a", Before: `"x"`, After: "null"},
				{Path: "b", Before: "null", After: "true"},
			},
		},
		{
			name:   "list with a sensitive element is split",
			change: `{"actions":["update"],"before":{"l":["a","s1"]},"after":{"l":["b","s2","c"]},"after_unknown":{},"before_sensitive":{"l":[false,true]},"after_sensitive":{"l":[false,true,false]}}`,
			want: []gitops.AttributeChange{
				{Path: "l[0]", Before: `"a"`, After: `"b"`},
				{Path: "l[1]", Sensitive: true},
				{Path: "l[2]", Before: "null", After: `"c"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := `{"format_version":"1.2","resource_changes":[{"address":"x.y","mode":"managed","type":"x","name":"y","change":` + tt.change + `}]}`
			plan, err := Parse([]byte(doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(plan.Changes) != 1 {
				t.Fatalf("got %d changes, want 1", len(plan.Changes))
			}
			if diff := cmp.Diff(tt.want, plan.Changes[0].Attributes); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLongValueIsCut(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", maxValue)
	doc := `{"format_version":"1.2","resource_changes":[{"address":"x.y","mode":"managed","type":"x","change":{"actions":["create"],"before":null,"after":{"v":"` + long + `"}}}]}`
	plan, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got := plan.Changes[0].Attributes[0].After
	if len(got) > maxValue+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, `"éé`) {
		t.Errorf("long value rendered as %d bytes %q…, want at most %d bytes ending in …", len(got), got[:10], maxValue)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc string
		limit     int
		wantErr   string
	}{
		{name: "over the size limit", doc: `{"format_version":"1.2"}`, limit: 10, wantErr: "over the 10-byte limit"},
		{name: "not JSON", doc: `Plan: 1 to add`, wantErr: "decode plan JSON"},
		{name: "not an object", doc: `[1,2]`, wantErr: "decode plan JSON"},
		{name: "trailing data", doc: `{"format_version":"1.2"} {}`, wantErr: "unexpected data after"},
		{name: "no format version", doc: `{"resource_changes":[]}`, wantErr: "format version is missing"},
		{name: "future format", doc: `{"format_version":"2.0"}`, wantErr: "unsupported plan format version"},
		{name: "change missing", doc: `{"format_version":"1.2","resource_changes":[{"address":"a.b"}]}`, wantErr: "resource_changes[0] has no change"},
		{
			name:    "unknown actions, value not quoted",
			doc:     `{"format_version":"1.2","resource_changes":[{"address":"a.b","mode":"managed","change":{"actions":["update","delete"],"before":{"p":"topsecret"}}}]}`,
			wantErr: `resource "a.b": unsupported actions`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			limit := tt.limit
			if limit == 0 {
				limit = MaxSize
			}
			plan, err := parse([]byte(tt.doc), limit)
			if err == nil {
				t.Fatalf("parse succeeded with %+v, want an error containing %q", plan, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error %q quotes a value", err)
			}
		})
	}
}

func TestStateful(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]bool{
		"aws_rds_cluster": true, "aws_rds_cluster_instance": true, "aws_db_instance": true, "aws_s3_bucket": true,
		"aws_elasticache_replication_group": true, "aws_elasticache_cluster": true, "aws_kms_key": true,
		"aws_secretsmanager_secret": true, "aws_route53_zone": true, "aws_dynamodb_table": true,
		"aws_efs_file_system": true, "aws_ebs_volume": true, "aws_db_snapshot": true,
		"terraform_data": false, "aws_instance": false, "aws_iam_role": false, "aws_s3_bucket_policy": false, "": false,
	} {
		if got := Stateful(typ); got != want {
			t.Errorf("Stateful(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestCompareAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"terraform_data.r[2]", "terraform_data.r[10]", -1},
		{"terraform_data.r[10]", "terraform_data.r[2]", 1},
		{"terraform_data.r[10]", "terraform_data.r[10]", 0},
		{"module.a[1].x.y", "module.a[1].x.z", -1},
		{"a.b[007]", "a.b[7]", 1},
		{"a.b", "a.b[0]", -1},
		{`a.b["x"]`, `a.b["y"]`, -1},
		{"aws_s3_bucket.b", "aws_db_instance.a", 1},
	}
	for _, tt := range tests {
		if got := CompareAddresses(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareAddresses(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseDeepNesting(t *testing.T) {
	t.Parallel()
	const depth = 5000
	nest := func(leaf string) string { return strings.Repeat("[", depth) + leaf + strings.Repeat("]", depth) }
	doc := `{"format_version":"1.2","resource_changes":[{"address":"a.b","mode":"managed","type":"a","change":{"actions":["update"],` +
		`"before":{"v":` + nest(`"old-secret"`) + `},"after":{"v":` + nest(`"new-secret"`) + `},` +
		`"before_sensitive":{"v":` + nest("true") + `},"after_sensitive":{"v":` + nest("true") + `},"after_unknown":{}}}]}`
	plan, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	// The walk stops at maxDepth and shows the rest as one masked value.
	want := []gitops.AttributeChange{{Path: "v" + strings.Repeat("[0]", maxDepth-1), Sensitive: true}}
	if diff := cmp.Diff(want, plan.Changes[0].Attributes); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
}

package schema_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

func awsSchema(t testing.TB) *schema.Provider {
	t.Helper()
	p, err := schema.AWS()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func check(t testing.TB, p *schema.Provider, src string) []string {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "main.tf")
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags.Error())
	}
	var got []string
	for _, d := range schema.Check(p, f) {
		got = append(got, d.Summary)
	}
	return got
}

func TestCheck(t *testing.T) {
	p := awsSchema(t)
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "valid resources, data sources and meta-arguments",
			src: `
resource "aws_s3_bucket" "b" {
  count  = 1
  bucket = "b"
  lifecycle {
    prevent_destroy = true
  }
}
resource "aws_s3_bucket_server_side_encryption_configuration" "b" {
  for_each = toset(["a"])
  bucket   = aws_s3_bucket.b[0].id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
  depends_on = [aws_s3_bucket.b]
}
data "aws_region" "current" {}
resource "terraform_data" "x" {}
`,
		},
		{
			name: "unknown resource type",
			src:  `resource "aws_s3_bukket" "b" {}`,
			want: []string{`unknown resource type "aws_s3_bukket" in registry.terraform.io/hashicorp/aws 6.66.0`},
		},
		{
			name: "unknown data source type",
			src:  `data "aws_regions_everywhere" "r" {}`,
			want: []string{`unknown data type "aws_regions_everywhere" in registry.terraform.io/hashicorp/aws 6.66.0`},
		},
		{
			name: "type of another provider",
			src:  `resource "random_id" "r" {}`,
			want: []string{`resource type "random_id" belongs to no provider checked here (only registry.terraform.io/hashicorp/aws 6.66.0)`},
		},
		{
			name: "misspelt argument",
			src:  `resource "aws_s3_bucket" "b" { bucket_nmae = "b" }`,
			want: []string{`resource "aws_s3_bucket": unsupported argument "bucket_nmae"`},
		},
		{
			name: "computed-only argument set",
			src:  `resource "aws_s3_bucket" "b" { arn = "arn:aws:s3:::b" }`,
			want: []string{`resource "aws_s3_bucket": "arn" is computed by the provider and cannot be set`},
		},
		{
			name: "missing required argument",
			src: `resource "aws_lambda_alias" "live" {
  name          = "live"
  function_name = "f"
}`,
			want: []string{`resource "aws_lambda_alias": missing required argument function_version`},
		},
		{
			name: "missing required block",
			src:  `resource "aws_s3_bucket_ownership_controls" "b" { bucket = "b" }`,
			want: []string{`resource "aws_s3_bucket_ownership_controls": missing required block rule`},
		},
		{
			name: "block in the wrong place",
			src: `resource "aws_s3_bucket_server_side_encryption_configuration" "b" {
  bucket = "b"
  apply_server_side_encryption_by_default {
    sse_algorithm = "aws:kms"
  }
  rule {}
}`,
			want: []string{`resource "aws_s3_bucket_server_side_encryption_configuration": unsupported block type "apply_server_side_encryption_by_default"`},
		},
		{
			name: "misspelt argument in a nested block",
			src: `resource "aws_s3_bucket_server_side_encryption_configuration" "b" {
  bucket = "b"
  rule {
    apply_server_side_encryption_by_default {
      sse_algoritm = "aws:kms"
    }
  }
}`,
			want: []string{
				`resource "aws_s3_bucket_server_side_encryption_configuration" > rule > apply_server_side_encryption_by_default: unsupported argument "sse_algoritm"`,
				`resource "aws_s3_bucket_server_side_encryption_configuration" > rule > apply_server_side_encryption_by_default: missing required argument sse_algorithm`,
			},
		},
		{
			name: "block written as an argument",
			src: `resource "aws_s3_bucket_ownership_controls" "b" {
  bucket = "b"
  rule   = { object_ownership = "BucketOwnerEnforced" }
}`,
			want: []string{
				`resource "aws_s3_bucket_ownership_controls": "rule" is a block: write rule { ... }`,
			},
		},
		{
			name: "argument written as a block",
			src: `resource "aws_s3_bucket" "b" {
  tags {
    Name = "b"
  }
}`,
			want: []string{`resource "aws_s3_bucket": "tags" is an argument: write tags = ...`},
		},
		{
			name: "literal of the wrong type",
			src: `resource "aws_kms_key" "k" {
  enable_key_rotation     = "yes"
  deletion_window_in_days = "thirty"
  description             = ["a"]
}`,
			want: []string{
				`resource "aws_kms_key": argument "deletion_window_in_days": expects number, got "thirty"`,
				`resource "aws_kms_key": argument "description": expects string, got a list`,
				`resource "aws_kms_key": argument "enable_key_rotation": expects bool, got "yes"`,
			},
		},
		{
			name: "convertible literals are accepted",
			src: `resource "aws_kms_key" "k" {
  enable_key_rotation     = "true"
  deletion_window_in_days = "30"
}`,
		},
		{
			name: "single block given twice",
			src: `resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = "f"
  function_version = "1"
  timeouts {
    update = "1m"
  }
  timeouts {
    update = "2m"
  }
}`,
			want: []string{`resource "aws_lambda_alias": only one "timeouts" block is allowed`},
		},
		{
			name: "list block limited to one given twice",
			src: `resource "aws_s3_bucket_versioning" "v" {
  bucket = "b"
  versioning_configuration {
    status = "Enabled"
  }
  versioning_configuration {
    status = "Suspended"
  }
}`,
			want: []string{`resource "aws_s3_bucket_versioning": only one "versioning_configuration" block is allowed`},
		},
		{
			name: "dynamic block content is checked",
			src: `resource "aws_s3_bucket_server_side_encryption_configuration" "b" {
  bucket = "b"
  dynamic "rule" {
    for_each = [1]
    content {
      bucket_key_enabld = true
    }
  }
}`,
			want: []string{`resource "aws_s3_bucket_server_side_encryption_configuration" > rule: unsupported argument "bucket_key_enabld"`},
		},
		{
			name: "recursive WAF statement written as a block",
			src: `resource "aws_wafv2_web_acl" "w" {
  scope = "REGIONAL"
  default_action {
    allow {}
  }
  rule {
    name     = "r"
    priority = 0
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      sampled_requests_enabled   = true
      metric_name                = "r"
    }
  }
  visibility_config {
    cloudwatch_metrics_enabled = true
    sampled_requests_enabled   = true
    metric_name                = "w"
  }
}`,
		},
		{
			name: "provider block",
			src: `provider "aws" {
  region  = "x"
  regoin  = "y"
  default_tags {
    tags = { A = "b" }
  }
}
provider "aws" {
  alias  = "other"
  region = "x"
}`,
			want: []string{`provider aws: unsupported argument "regoin"`},
		},
		{
			name: "references resolve",
			src: `
variable "v" {}
locals {
  l = var.v
}
resource "aws_s3_bucket" "b" {
  count  = 1
  bucket = local.l
}
resource "aws_s3_bucket_policy" "p" {
  provider = aws.other
  bucket   = aws_s3_bucket.b[0].id
  lifecycle {
    ignore_changes       = [policy, tags.Name]
    replace_triggered_by = [aws_s3_bucket.b[0].id]
  }
  policy = jsonencode({ arn = aws_s3_bucket.b[0].arn, r = data.aws_region.current.region, xs = [for x in aws_s3_bucket.b : x.bucket] })
}
data "aws_region" "current" {}
moved {
  from = aws_s3_bucket.old
  to   = aws_s3_bucket.b
}
`,
		},
		{
			name: "references to nothing",
			src: `
resource "aws_s3_bucket" "b" {
  bucket = "${var.nope}-${local.none}"
}
resource "aws_s3_bucket_policy" "p" {
  bucket = aws_s3_bucket.missing.id
  policy = "${aws_s3_bucket.b.arnn}${data.aws_region.current.regionn}${data.aws_region.other.region}"
}
data "aws_region" "current" {}
`,
			want: []string{
				`reference to undeclared variable "nope"`,
				`reference to undefined local value "none"`,
				`reference to undeclared resource aws_s3_bucket.missing`,
				`aws_s3_bucket.b has no attribute "arnn"`,
				`data.aws_region.current has no attribute "regionn"`,
				`reference to undeclared data source data.aws_region.other`,
			},
		},
		{
			name: "provider pinned to the checked version",
			src: `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "= 6.66.0" }
  }
}`,
		},
		{
			name: "provider pinned to another version",
			src: `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 6.0" }
  }
}`,
			want: []string{`required_providers.aws.version = "~> 6.0": pin the version the schema was checked against ("= 6.66.0" or "~> 6.66.0")`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(t, p, tt.src)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckDir(t *testing.T) {
	p := awsSchema(t)
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.tf", `resource "aws_s3_bucket" "b" { bucket = "b" }`)
	write("b.tf", `resource "aws_s3_bucket" "c" { bukket = "c" }`)
	write("c.tf", `resource "aws_s3_bucket" "d" {`)
	write("notes.txt", `resource "nothing" "here" {}`)

	var got []string
	for _, d := range schema.CheckDir(p, dir) {
		got = append(got, filepath.Base(d.Subject.Filename)+": "+d.Summary)
	}
	want := []string{
		"c.tf: Unclosed configuration block",
		`b.tf: resource "aws_s3_bucket": unsupported argument "bukket"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}

func TestCheckDirRefusesLargeFiles(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("# padding\n", 500_000)
	if err := os.WriteFile(filepath.Join(dir, "big.tf"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	diags := schema.CheckDir(awsSchema(t), dir)
	if len(diags) != 1 || diags[0].Severity != hcl.DiagError || !strings.Contains(diags[0].Detail, "over the") {
		t.Errorf("want one size error, got %v", diags)
	}
}

func TestAWSSchema(t *testing.T) {
	p := awsSchema(t)
	if p.Version != schema.AWSVersion || p.Source != "registry.terraform.io/hashicorp/aws" {
		t.Errorf("schema of %s %s, want registry.terraform.io/hashicorp/aws %s", p.Source, p.Version, schema.AWSVersion)
	}
	// A few facts from the provider documentation, to catch a generator that lost the flags.
	bucket := p.Resources["aws_s3_bucket"]
	if bucket == nil || !bucket.Attributes["arn"].ComputedOnly() || !bucket.Attributes["bucket"].Optional {
		t.Errorf("aws_s3_bucket: arn must be computed-only and bucket optional")
	}
	alias := p.Resources["aws_lambda_alias"]
	if alias == nil || !alias.Attributes["function_version"].Required || alias.Blocks["routing_config"] == nil {
		t.Errorf("aws_lambda_alias: function_version must be required and routing_config a block")
	}
	if got := len(p.Resources); got < 1500 {
		t.Errorf("only %d resource types: the schema is incomplete", got)
	}
	if p.Config.Blocks["default_tags"] == nil {
		t.Errorf("provider configuration: default_tags block missing")
	}
}

package planjson

import (
	"fmt"
	"strings"
	"testing"
)

// TestRedactRealTerraform plans, with a real Terraform binary, changes to sensitive values of every kind
// (a two-character string, a whole number, a fraction, booleans, multi-line strings, a list, a map, a JSON
// document) that terraform_data copies into its unmarked "output", which Terraform prints in plain text,
// and nonsensitive() outputs of them. Redacting the text must leave none of the values where Terraform
// prints values, and keep the rest of the text.
func TestRedactRealTerraform(t *testing.T) {
	t.Parallel()
	const config = `
variable "v" {
  sensitive = true
  default = {
    n   = %d
    f   = %s
    b   = %t
    s   = %q
    ml  = %q
    js  = %q
    l   = [%[1]d, %[4]q]
    m   = { "a b" = %[4]q, k = %[1]d }
  }
}
variable "port" {
  type      = number
  sensitive = true
  default   = %[1]d
}
resource "terraform_data" "all" { input = var.v }
resource "terraform_data" "ml" { input = var.v.ml }
resource "terraform_data" "list" { input = [var.v.ml, var.v.s, var.v.n, var.v.b] }
resource "terraform_data" "r" {
  input            = var.v.s
  triggers_replace = [var.v.n]
}
resource "terraform_data" "plain" { input = { kept = %[7]q, count = %[8]d } }
output "port" { value = nonsensitive(var.port) }
output "flag" { value = nonsensitive(var.v.b) }
output "text" { value = nonsensitive(var.v.ml) }
`
	before := fmt.Sprintf(config, 5432, "1.5", true, "ab", "one-line\nx\n  indented\n\nEOT\nlast-line", `{"user":"u1","pin":42}`, "zz-old", 2)
	after := fmt.Sprintf(config, 5433, "2.25", false, "cd", "one-line\ny\n  indented\n\nEOT\nlast-two", `{"user":"u2","pin":43}`, "zz", 3)
	p := makePlan(t, before, after)
	for _, leak := range []string{`= 5432`, `"ab"`, `= true`, `<<-EOT`} {
		if !strings.Contains(p.Text, leak) {
			t.Logf("terraform no longer prints %q of a sensitive value in plain text", leak)
		}
	}
	d, err := Decode(p.JSON)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	got := d.Redact(p.Text)
	if fromText, err := RedactText(p.Text, p.JSON); err != nil || fromText != got {
		t.Errorf("RedactText (error %v) differs from Redact", err)
	}
	if strings.Count(got, "\n") != strings.Count(p.Text, "\n") {
		t.Errorf("redaction changed the number of lines")
	}

	// Every value position: "name = value", list items, map values, both sides of " -> ".
	secrets := []string{"5432", "5433", "1.5", "2.25", "true", "false", `"ab"`, `"cd"`, `"u1"`, `"u2"`, "42", "43"}
	heredocLines := []string{"one-line", "x", "y", "indented", "EOT", "last-line", "last-two"}
	inHeredoc := -1
	for i, line := range strings.Split(got, "\n") {
		switch {
		case inHeredoc >= 0 && len(line)-len(strings.TrimLeft(line, " ")) == inHeredoc:
			// The closing EOT, masked too since "EOT" is a line of a secret.
			inHeredoc = -1
		case inHeredoc >= 0:
			content := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "+-~"))
			for _, s := range heredocLines {
				if content == s {
					t.Errorf("line %d: heredoc line %q of a sensitive value survives", i+1, s)
				}
			}
		default:
			for _, tok := range tokens(line) {
				for _, s := range secrets {
					if tok == s {
						t.Errorf("line %d: sensitive %s survives: %q", i+1, s, line)
					}
				}
			}
			if strings.HasSuffix(line, "<<-EOT") {
				inHeredoc = strings.Index(line, strings.TrimLeft(strings.TrimSpace(line), "+-~ "))
			}
		}
	}
	for _, s := range []string{"one-line", "last-line", "last-two", "u1", "u2"} {
		if strings.Contains(got, s) {
			t.Errorf("sensitive %q survives in the text", s)
		}
	}
	// What is not secret stays: the plain resource's values, the comments, the summary line.
	for _, keep := range []string{`"zz-old" -> "zz"`, `2 -> 3`} {
		if !strings.Contains(got, keep) {
			t.Errorf("redaction lost %q", keep)
		}
	}
	gotLines := strings.Split(got, "\n")
	for i, line := range strings.Split(p.Text, "\n") {
		if l := strings.TrimSpace(line); (strings.HasPrefix(l, "#") || strings.HasPrefix(l, "Plan:")) && gotLines[i] != line {
			t.Errorf("line %d changed from %q to %q", i+1, line, gotLines[i])
		}
	}
	if t.Failed() {
		t.Logf("terraform printed:\n%s\nredacted:\n%s", p.Text, got)
	}
}

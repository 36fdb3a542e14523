package awsrole

import "testing"

func TestAllowlist(t *testing.T) {
	a, err := ParseAllowlist(" arn:aws:iam::111111111111:role/gitops-* , arn:aws:iam::222222222222:role/plan-dev")
	if err != nil {
		t.Fatal(err)
	}
	for arn, want := range map[string]bool{
		"arn:aws:iam::111111111111:role/gitops-deploy-prod":   true,
		"arn:aws:iam::111111111111:role/path/gitops-x":        false,
		"arn:aws:iam::111111111111:role/gitops-a/nested":      true, // "*" crosses "/"
		"arn:aws:iam::222222222222:role/plan-dev":             true,
		"arn:aws:iam::222222222222:role/plan-dev2":            false,
		"arn:aws:iam::999999999999:role/gitops-deploy-prod":   false,
		"arn:aws:iam::111111111111:role/gitops-.+(regex)?[x]": true, // globs are not regular expressions
	} {
		if got := a.Allows(arn); got != want {
			t.Errorf("Allows(%s) = %v, want %v", arn, got, want)
		}
	}
	if empty, _ := ParseAllowlist(""); !empty.Allows("arn:aws:iam::999999999999:role/anything") {
		t.Error("an empty allowlist must allow every role")
	}
	if _, err := ParseAllowlist("gitops-*"); err == nil {
		t.Error("a glob that is not an ARN is accepted")
	}
	dots, _ := ParseAllowlist("arn:aws:iam::111111111111:role/a.b")
	if dots.Allows("arn:aws:iam::111111111111:role/aXb") {
		t.Error("'.' in a glob matches any character")
	}
}

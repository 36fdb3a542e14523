package planjson

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDecode checks that Decode gives what Parse and RedactText give, from one decoding, and that printing
// a Decoded shows no secret.
func TestDecode(t *testing.T) {
	t.Parallel()
	const secretDoc = `{"format_version":"1.2","resource_changes":[{"address":"aws_db_instance.a","mode":"managed","type":"aws_db_instance",
"change":{"actions":["update"],"before":{"password":"old-hunter2","port":5432},"after":{"password":"new-hunter3","port":5432},
"before_sensitive":{"password":true},"after_sensitive":{"password":true}}}],
"output_changes":{"conn":{"actions":["update"],"before":"pg://old-hunter2@db","after":"pg://new-hunter3@db","before_sensitive":true,"after_sensitive":true}}}`
	text := `  ~ password = "old-hunter2" -> "new-hunter3"
  ~ conn     = "pg://old-hunter2@db" -> "pg://new-hunter3@db"
    port     = 5432
`
	docs := map[string][]byte{
		"secrets":      []byte(secretDoc),
		"aws fixture":  readFixture(t, "aws_stateful.json"),
		"mixed plan":   readFixture(t, "terraform_mixed.json"),
		"empty object": []byte(`{"format_version":"1.2"}`),
	}
	for name, data := range docs {
		d, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: Decode: %v", name, err)
		}
		plan, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: Parse: %v", name, err)
		}
		if diff := cmp.Diff(plan, d.Plan); diff != "" {
			t.Errorf("%s: Decode's plan differs from Parse (-Parse +Decode):\n%s", name, diff)
		}
		redacted, err := RedactText(text, data)
		if err != nil {
			t.Fatalf("%s: RedactText: %v", name, err)
		}
		if got := d.Redact(text); got != redacted {
			t.Errorf("%s: Redact =\n%s\nRedactText =\n%s", name, got, redacted)
		}
		for _, s := range []string{"hunter2", "hunter3"} {
			for _, verb := range []string{"%v", "%+v", "%#v"} {
				if printed := fmt.Sprintf(verb, d); strings.Contains(printed, s) {
					t.Errorf("%s: Sprintf(%q) of a Decoded shows a secret: %s", name, verb, printed)
				}
			}
		}
	}
	d, err := Decode([]byte(secretDoc))
	if err != nil {
		t.Fatal(err)
	}
	want := `  ~ password = (sensitive value) -> (sensitive value)
  ~ conn     = (sensitive value) -> (sensitive value)
    port     = 5432
`
	if got := d.Redact(text); got != want {
		t.Errorf("Redact =\n%s\nwant\n%s", got, want)
	}
	if got := (&Decoded{}).Redact(text); got != text {
		t.Errorf("Redact of a zero Decoded changed the text:\n%s", got)
	}
	if _, err := Decode([]byte(`{"resource_changes":[]}`)); err == nil || !strings.Contains(err.Error(), "format version is missing") {
		t.Errorf("Decode of a document without format version: got %v", err)
	}
}

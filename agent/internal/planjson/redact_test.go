package planjson

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// changeDoc returns a plan JSON document with one update of terraform_data.a from before to after, their
// sensitivity shapes bs and as, and the top-level members of extra.
func changeDoc(t testing.TB, before, after, bs, as any, extra map[string]any) []byte {
	t.Helper()
	doc := map[string]any{
		"format_version": "1.2",
		"resource_changes": []any{map[string]any{
			"address": "terraform_data.a", "mode": "managed", "type": "terraform_data", "name": "a",
			"change": map[string]any{
				"actions": []string{"update"}, "before": before, "after": after,
				"before_sensitive": bs, "after_sensitive": as,
			},
		}},
	}
	for k, v := range extra {
		doc[k] = v
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// lines joins its arguments with newlines, so that expected plan text lines up in the source.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

// TestRedactShapes checks Redact on each shape in which Terraform prints a value, from the texts real
// plans print (see TestRedactRealTerraform for the same from the binary itself).
func TestRedactShapes(t *testing.T) {
	t.Parallel()
	copied := map[string]any{
		"n": 5432, "f": 1.5, "b": true, "s": "ab", "ws": "  ws  ", "uni": "é日",
		"ml": "one\nx\n  indented\n\nEOT\nlast", "js": `{"a":"b","c":7}`,
		"l": []any{5432, "ab"}, "m": map[string]any{"a b": "ab", "k": 5432},
	}
	tests := []struct {
		name      string
		doc       []byte
		text      string
		want      string
		unchanged bool // want is text
	}{
		{
			name: "terraform_data copies a sensitive object",
			doc: changeDoc(t, map[string]any{"input": copied, "output": copied}, map[string]any{"input": copied},
				map[string]any{"input": true}, map[string]any{"input": true}, nil),
			text: lines(
				`  # terraform_data.a will be updated in-place`,
				`  ~ resource "terraform_data" "a" {`,
				`        id     = "840b94cf-ac5f-a852-61a9-cb587334f9a2"`,
				`      ~ input  = (sensitive value)`,
				`      ~ output = {`,
				`          - b   = true`,
				`          - f   = 1.5`,
				`          - js  = jsonencode(`,
				`                {`,
				`                  - a = "b"`,
				`                  - c = 7`,
				`                }`,
				`            )`,
				`          - l   = [`,
				`              - 5432,`,
				`              - "ab",`,
				`              - "zz",`,
				`            ]`,
				`          - m   = {`,
				`              - "a b" = "ab"`,
				`              - k     = 5432`,
				`            }`,
				`          - ml  = <<-EOT`,
				`                one`,
				`                x`,
				`                  indented`,
				`                `,
				`                EOT`,
				`                last`,
				`            EOT`,
				`          - n   = 5432`,
				`          - s   = "ab"`,
				`          - uni = "é日"`,
				`          - ws  = "  ws  "`,
				`        } -> (known after apply)`,
				`    }`,
				``,
				`Plan: 0 to add, 1 to change, 0 to destroy.`,
			),
			want: lines(
				`  # terraform_data.a will be updated in-place`,
				`  ~ resource "terraform_data" "a" {`,
				`        id     = "840b94cf-ac5f-a852-61a9-cb587334f9a2"`,
				`      ~ input  = (sensitive value)`,
				`      ~ output = {`,
				`          - b   = (sensitive value)`,
				`          - f   = (sensitive value)`,
				`          - js  = jsonencode(`,
				`                {`,
				`                  - a = (sensitive value)`,
				`                  - c = (sensitive value)`,
				`                }`,
				`            )`,
				`          - l   = [`,
				`              - (sensitive value),`,
				`              - (sensitive value),`,
				`              - "zz",`,
				`            ]`,
				`          - m   = {`,
				`              - "a b" = (sensitive value)`,
				`              - k     = (sensitive value)`,
				`            }`,
				`          - ml  = <<-EOT`,
				`                (sensitive value)`,
				`                (sensitive value)`,
				`                (sensitive value)`,
				`                `,
				`                (sensitive value)`,
				`                (sensitive value)`,
				`            (sensitive value)`,
				`          - n   = (sensitive value)`,
				`          - s   = (sensitive value)`,
				`          - uni = (sensitive value)`,
				`          - ws  = (sensitive value)`,
				`        } -> (known after apply)`,
				`    }`,
				``,
				`Plan: 0 to add, 1 to change, 0 to destroy.`,
			),
		},
		{
			name: "list items, old -> new, forces replacement; addresses, names and counts stay",
			doc: changeDoc(t, map[string]any{"input": []any{"one\nx\nlast", "ab", 1}, "port": 5432, "name": "a"},
				map[string]any{"input": []any{"one\ny\nlast", "cd", 2}, "port": 5433, "name": "a"},
				map[string]any{"input": true, "port": true, "name": true}, map[string]any{"input": true, "port": true, "name": true}, nil),
			text: lines(
				`  # terraform_data.r[1] must be replaced`,
				`-/+ resource "terraform_data" "a" {`,
				`      ~ output = [`,
				`          - <<-EOT`,
				`                one`,
				`                x`,
				`                last`,
				`            EOT,`,
				`          - "ab",`,
				`          - 1,`,
				`          + 2,`,
				`          + "zz",`,
				`          + 10,`,
				`          + 1, # forces replacement`,
				`        ] -> (known after apply)`,
				`      ~ port   = 5432 -> 5433 # forces replacement`,
				`      ~ copy   = "ab" -> "a"`,
				`      ~ prose  = "1 to 2"`,
				`        tags   = {`,
				`            "a" = "1"`,
				`        }`,
				`        # (1 unchanged attribute hidden)`,
				`    }`,
				``,
				`Plan: 1 to add, 0 to change, 1 to destroy.`,
			),
			want: lines(
				`  # terraform_data.r[1] must be replaced`,
				`-/+ resource "terraform_data" "a" {`,
				`      ~ output = [`,
				`          - <<-EOT`,
				`                (sensitive value)`,
				`                (sensitive value)`,
				`                (sensitive value)`,
				`            EOT,`,
				`          - (sensitive value),`,
				`          - (sensitive value),`,
				`          + (sensitive value),`,
				`          + "zz",`,
				`          + 10,`,
				`          + (sensitive value), # forces replacement`,
				`        ] -> (known after apply)`,
				`      ~ port   = (sensitive value) -> (sensitive value) # forces replacement`,
				`      ~ copy   = (sensitive value) -> (sensitive value)`,
				`      ~ prose  = "1 to 2"`,
				`        tags   = {`,
				`            "a" = "1"`,
				`        }`,
				`        # (1 unchanged attribute hidden)`,
				`    }`,
				``,
				`Plan: 1 to add, 0 to change, 1 to destroy.`,
			),
		},
		{
			name: "heredoc line diff and a heredoc followed by a new value",
			doc: changeDoc(t, nil, nil, nil, nil, map[string]any{"output_changes": map[string]any{"ml": map[string]any{
				"actions": []string{"update"}, "before": "one\nx\n  indented\nlast", "after": "one\ny\n  indented\nlast2",
				"before_sensitive": true, "after_sensitive": true,
			}, "other": map[string]any{
				"actions": []string{"update"}, "before": "y", "after": "zq", "before_sensitive": true, "after_sensitive": true,
			}}}),
			text: lines(
				`  ~ plainml = <<-EOT`,
				`        one`,
				`      - x`,
				`      + y`,
				`          indented`,
				`      - last`,
				`      + last2`,
				`      + kept`,
				`    EOT`,
				`  ~ other   = <<-EOT`,
				`        y`,
				`    EOT -> "zq"`,
			),
			want: lines(
				`  ~ plainml = <<-EOT`,
				`        (sensitive value)`,
				`      - (sensitive value)`,
				`      + (sensitive value)`,
				`        (sensitive value)`,
				`      - (sensitive value)`,
				`      + (sensitive value)`,
				`      + kept`,
				`    EOT`,
				`  ~ other   = <<-EOT`,
				`        (sensitive value)`,
				`    EOT -> (sensitive value)`,
			),
		},
		{
			name: "sensitive variables, prior state and drift",
			doc: changeDoc(t, map[string]any{"input": "x"}, map[string]any{"input": "x"}, false, false, map[string]any{
				"variables": map[string]any{
					"port":  map[string]any{"value": 5433},
					"flag":  map[string]any{"value": false},
					"plain": map[string]any{"value": 7},
				},
				"configuration": map[string]any{"root_module": map[string]any{"variables": map[string]any{
					"port": map[string]any{"sensitive": true}, "flag": map[string]any{"sensitive": true}, "plain": map[string]any{},
				}}},
				"prior_state": map[string]any{"values": map[string]any{
					"outputs": map[string]any{"o": map[string]any{"sensitive": true, "value": "pw"}},
					"root_module": map[string]any{"child_modules": []any{map[string]any{"resources": []any{map[string]any{
						"values":           map[string]any{"token": "t9", "public": "p1"},
						"sensitive_values": map[string]any{"token": true},
					}}}}},
				}},
				"resource_drift": []any{map[string]any{"change": map[string]any{
					"before": map[string]any{"key": "k7"}, "after": map[string]any{"key": "k8"},
					"before_sensitive": map[string]any{"key": true}, "after_sensitive": map[string]any{"key": true},
				}}},
			}),
			text: lines(
				`      ~ key    = "k7" -> "k8"`,
				`  ~ plain = 5432 -> 5433`,
				`  ~ flag  = true -> false`,
				`  ~ other = 7`,
				`  + o     = "pw"`,
				`  + token = "t9"`,
				`  + pub   = "p1"`,
			),
			want: lines(
				`      ~ key    = (sensitive value) -> (sensitive value)`,
				`  ~ plain = 5432 -> (sensitive value)`,
				`  ~ flag  = true -> (sensitive value)`,
				`  ~ other = 7`,
				`  + o     = (sensitive value)`,
				`  + token = (sensitive value)`,
				`  + pub   = "p1"`,
			),
		},
		{
			name: "long strings anywhere, the mask left whole",
			doc: changeDoc(t, map[string]any{"p": "hunter2", "q": "sensitive", "r": "a \"quoted\" one"}, nil,
				map[string]any{"p": true, "q": true, "r": true}, nil, nil),
			text: lines(
				`      ~ url    = "pg://hunter2@db"`,
				`      ~ word   = "sensitive" -> (sensitive value)`,
				`      ~ quoted = "say a \"quoted\" one"`,
				`        script = <<-EOT`,
				`            password: hunter2`,
				`        EOT`,
				`  # hunter2 in a comment`,
			),
			want: lines(
				`      ~ url    = "pg://(sensitive value)@db"`,
				`      ~ word   = (sensitive value) -> (sensitive value)`,
				`      ~ quoted = "say (sensitive value)"`,
				`        script = <<-EOT`,
				`            password: (sensitive value)`,
				`        EOT`,
				`  # (sensitive value) in a comment`,
			),
		},
		{
			name: "carriage returns",
			doc:  changeDoc(t, map[string]any{"n": 7}, nil, map[string]any{"n": true}, nil, nil),
			text: "  ~ n = 7\r\n  + m = [\r\n      + 7,\r\n    ]\r\n",
			want: "  ~ n = (sensitive value)\r\n  + m = [\r\n      + (sensitive value),\r\n    ]\r\n",
		},
		{
			name:      "nothing sensitive",
			doc:       changeDoc(t, map[string]any{"n": 7}, nil, nil, nil, nil),
			text:      lines(`  ~ n = 7`, `  ~ s = "ab"`, `  ~ b = true`),
			unchanged: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := tt.want
			if tt.unchanged {
				want = tt.text
			}
			got, err := RedactText(tt.text, tt.doc)
			if err != nil {
				t.Fatalf("RedactText: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("RedactText (-want +got):\n%s", diff)
			}
			d, err := Decode(tt.doc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := d.Redact(tt.text); got != want {
				t.Errorf("Decode's Redact differs from the expected text:\n%s", cmp.Diff(want, got))
			}
		})
	}
}

// TestParseKeepsVariablesOutOfThePlan checks that what redaction reads beyond the changes (sensitive
// variables, prior state, drift) changes nothing in the domain plan: a value equal to a sensitive variable
// is still shown in the plan's attributes, whose masking follows the changes' own marks.
func TestParseKeepsVariablesOutOfThePlan(t *testing.T) {
	t.Parallel()
	doc := changeDoc(t, map[string]any{"input": "same-as-var"}, map[string]any{"input": "other"}, false, false, map[string]any{
		"variables":     map[string]any{"v": map[string]any{"value": "same-as-var"}},
		"configuration": map[string]any{"root_module": map[string]any{"variables": map[string]any{"v": map[string]any{"sensitive": true}}}},
	})
	plan, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Changes[0].Attributes[0].Before; got != `"same-as-var"` {
		t.Errorf("input's before = %s, want the value shown", got)
	}
	text, err := RedactText(`  ~ input = "same-as-var" -> "other"`, doc)
	if err != nil {
		t.Fatal(err)
	}
	if want := `  ~ input = (sensitive value) -> "other"`; text != want {
		t.Errorf("RedactText = %q, want %q", text, want)
	}
}

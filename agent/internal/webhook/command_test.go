package webhook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		note   string
		want   command
		wantOK bool
	}{
		{name: "plan", note: "/gitops plan", want: command{Word: "plan"}, wantOK: true},
		{name: "arguments", note: "/gitops plan --stack api  --stage=prod\nthanks", want: command{Word: "plan", Args: []string{"--stack", "api", "--stage=prod"}}, wantOK: true},
		{name: "leading blank lines and CRLF", note: "\r\n  \n/gitops help\r\nmore", want: command{Word: "help"}, wantOK: true},
		{name: "tabs", note: "/gitops\tretry\t", want: command{Word: "retry"}, wantOK: true},
		{name: "the prefix alone", note: "/gitops", want: command{}, wantOK: true},
		{name: "the prefix and spaces", note: "/gitops   \nplan", want: command{}, wantOK: true},
		{name: "not a word", note: "/gitopsplan", wantOK: false},
		{name: "another case", note: "/Gitops plan", wantOK: false},
		{name: "second line", note: "hello\n/gitops plan", wantOK: false},
		{name: "quoted", note: "> /gitops plan", wantOK: false},
		{name: "empty", note: "", wantOK: false},
		{name: "bidirectional override", note: "/gitops plan \u202e--stack api", want: command{Word: "plan", Problem: "the command line holds control or formatting characters"}, wantOK: true},
		{name: "zero-width joiner in the word", note: "/gitops pl\u200dan", want: command{Word: "plan", Problem: "the command line holds control or formatting characters"}, wantOK: true},
		{name: "NUL", note: "/gitops plan\x00x", want: command{Word: "planx", Problem: "the command line holds control or formatting characters"}, wantOK: true},
		{name: "invalid UTF-8", note: "/gitops pl\xffan", want: command{Word: "plan", Problem: "the command line is not valid UTF-8"}, wantOK: true},
		{name: "long line", note: "/gitops plan " + strings.Repeat("x", 2000), want: command{Word: "plan", Problem: "the command line is longer than 1,024 bytes"}, wantOK: true},
		{name: "long word", note: "/gitops " + strings.Repeat("é", 40), want: command{Word: strings.Repeat("é", 16), Problem: "the command word is longer than 32 bytes"}, wantOK: true},
		{name: "many arguments", note: "/gitops plan" + strings.Repeat(" a", 33), want: command{Word: "plan", Problem: "the command has more than 32 arguments"}, wantOK: true},
		{name: "long argument", note: "/gitops plan --stack " + strings.Repeat("a", 129), want: command{Word: "plan", Problem: "an argument is longer than 128 bytes"}, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseCommand(tt.note)
			if ok != tt.wantOK {
				t.Fatalf("parseCommand(%q) ok = %v, want %v", tt.note, ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseCommand(%q) (-want +got):\n%s", tt.note, diff)
			}
		})
	}
}

// FuzzParseCommand feeds comment bodies (seeds in testdata/commands): whatever a commenter writes, a
// command is bounded, valid UTF-8 without control or formatting characters, or says why it is not.
func FuzzParseCommand(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "commands", "*.txt"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata/commands: %v", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, note string) {
		c, ok := parseCommand(note)
		if !ok {
			if c.Word != "" || c.Args != nil || c.Problem != "" {
				t.Fatalf("not a command, yet %+v", c)
			}
			return
		}
		if !strings.HasPrefix(strings.TrimLeft(note, " \t\r\n"), CommandPrefix) {
			t.Fatalf("%q taken for a command", note)
		}
		if len(c.Word) > maxCommandWord || !utf8.ValidString(c.Word) || strings.IndexFunc(c.Word, odd) >= 0 || strings.ContainsAny(c.Word, " \t\n") {
			t.Fatalf("command word %q is not bounded or clean", c.Word)
		}
		if c.Problem != "" {
			if len(c.Args) != 0 {
				t.Fatalf("a refused command keeps arguments %q", c.Args)
			}
			return
		}
		if len(c.Args) > maxArgs {
			t.Fatalf("%d arguments", len(c.Args))
		}
		for _, a := range c.Args {
			if a == "" || len(a) > maxArg || !utf8.ValidString(a) || strings.IndexFunc(a, odd) >= 0 {
				t.Fatalf("argument %q is not bounded or clean", a)
			}
		}
	})
}

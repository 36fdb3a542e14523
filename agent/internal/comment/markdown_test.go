package comment

import "testing"

func TestEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func(string) string
		in   string
		want string
	}{
		{"text html", text, "<img src=x onerror=alert(1)>", `\<img src=x onerror=alert(1)\>`},
		{"text markdown", text, "*a* _b_ [l](u) `c` a|b ~s~ &amp; $x$ \\", "\\*a\\* \\_b\\_ \\[l\\](u) \\`c\\` a\\|b \\~s\\~ \\&amp; \\$x\\$ \\\\"},
		{"text line breaks", text, "a\nb\r\n# c", "a b  #\u2060 c"},
		{"text mention", text, "ping @all about #12", "ping @\u2060all about #\u2060" + "12"},
		{"code plain", code, "terraform_data.r[0]", "`terraform_data.r[0]`"},
		{"code backtick", code, "x`y", "``x`y``"},
		{"code edge backtick", code, "`x", "`` `x ``"},
		{"code empty", code, "", "` `"},
		{"code newline", code, "a\n```\nb", "````a ``` b````"},
		{"cell code pipe", cellCode, "a|b", "`a\\|b`"},
		{"block", block, "x\n```\ny", "````text\nx\n```\ny\n````\n"},
		{"block crlf", block, "x\r\n", "```text\nx\n```\n"},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.in); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestLink(t *testing.T) {
	t.Parallel()
	tests := []struct{ url, want string }{
		{"https://gitlab.example.com/g/p/-/commit/abc", "[`abc`](https://gitlab.example.com/g/p/-/commit/abc)"},
		{"https://x.example/a (b)<c>", "[`abc`](https://x.example/a%20%28b%29%3Cc%3E)"},
		{"javascript:alert(1)", "`abc`"},
		{"", "`abc`"},
		{"//no-scheme.example", "`abc`"},
	}
	for _, tt := range tests {
		if got := link("abc", tt.url); got != tt.want {
			t.Errorf("link(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestCutLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in          string
		n           int
		want        string
		wantDropped int
	}{
		{"a\nb\nc\n", 10, "a\nb\nc\n", 0},
		{"a\nb\nc\n", 4, "a\nb\n", 1},
		{"a\nb\nc", 4, "a\nb\n", 1},
		{"abcdef\ng\n", 3, "abc\n", 2},
		{"ééé\n", 3, "é\n", 1},
		{"abc", 0, "", 1},
	}
	for _, tt := range tests {
		got, dropped := cutLines(tt.in, tt.n)
		if got != tt.want || dropped != tt.wantDropped {
			t.Errorf("cutLines(%q, %d) = %q, %d; want %q, %d", tt.in, tt.n, got, dropped, tt.want, tt.wantDropped)
		}
	}
}

func TestNumber(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 4000: "4,000", 1234567: "1,234,567", -4000: "-4,000"} {
		if got := number(n); got != want {
			t.Errorf("number(%d) = %q, want %q", n, got, want)
		}
	}
}

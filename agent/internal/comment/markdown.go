package comment

import (
	"html"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Everything a note shows from a user's repository (stack names, addresses, values, policy messages,
// Terraform's diagnostics) passes through one of these functions, so no value can inject HTML, links,
// table cells or an unclosed code fence into the note.

// textEscaper backslash-escapes the punctuation that starts markdown or HTML syntax inline; CommonMark
// allows a backslash before any ASCII punctuation, and an escaped character is always literal. GitLab finds
// mentions (@user, which notify) and issue references (#12, which post on the issue) in the rendered text,
// where a backslash no longer is, so those get an invisible word joiner (U+2060) after the sign instead.
var textEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`, `<`, `\<`, `>`, `\>`,
	`|`, `\|`, `~`, `\~`, `&`, `\&`, `$`, `\$`, `@`, "@\u2060", `#`, "#\u2060",
)

// text renders s as literal inline text: markdown punctuation escaped, line breaks and other control
// characters turned into spaces so s stays on its line.
func text(s string) string { return textEscaper.Replace(oneLine(s)) }

// code renders s as an inline code span, literal whatever it holds: the fence is one backtick longer than
// the longest run of backticks in s. Inside a code span markdown and HTML are not interpreted.
func code(s string) string {
	s = oneLine(s)
	if s == "" {
		return "` `"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// htmlCode renders s as an HTML <code> element, for raw HTML such as a <summary>, where markdown is not
// interpreted: HTML special characters are escaped, and GitLab finds no mention or reference inside code.
func htmlCode(s string) string { return "<code>" + html.EscapeString(oneLine(s)) + "</code>" }

// cellCode is code for a table cell: a pipe would end the cell even inside a code span, so it is escaped
// (GitLab and GitHub unescape it inside the span).
func cellCode(s string) string { return strings.ReplaceAll(code(s), "|", `\|`) }

// block renders s as a fenced code block whose fence is longer than any run of backticks or tildes in s,
// so no line of s can close it. The result ends with a newline.
func block(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\r\n", "\n"), "\uFFFD")
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	var b strings.Builder
	b.Grow(len(s) + 2*len(fence) + 8)
	b.WriteString(fence)
	b.WriteString("text\n")
	b.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		b.WriteByte('\n')
	}
	b.WriteString(fence)
	b.WriteByte('\n')
	return b.String()
}

// link renders a markdown link to u showing label as code, or only the code when u is not a plain
// http(s) URL.
func link(label, u string) string {
	parsed, err := url.Parse(u)
	if u == "" || err != nil || (parsed.Scheme != "https" && parsed.Scheme != "http") || parsed.Host == "" {
		return code(label)
	}
	// Parentheses, spaces and angle brackets would end or break the link destination.
	return "[" + code(label) + "](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E").Replace(parsed.String()) + ")"
}

// oneLine replaces control characters (line breaks included) with spaces and invalid UTF-8 with U+FFFD.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 }

func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + "…"
}

// cutLines keeps whole lines of s within n bytes and reports how many lines it dropped; a first line longer
// than n is itself cut, on a character boundary.
func cutLines(s string, n int) (kept string, dropped int) {
	if len(s) <= n {
		return s, 0
	}
	cut := strings.LastIndexByte(s[:n], '\n') + 1
	if cut == 0 {
		cut = n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	rest := s[cut:]
	dropped = strings.Count(rest, "\n") + boolInt(!strings.HasSuffix(rest, "\n"))
	if cut > 0 && s[cut-1] != '\n' {
		return s[:cut] + "\n", dropped
	}
	return s[:cut], dropped
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// number formats n with thousands separators: 4000 → "4,000".
func number(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + number(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// plural returns "1 resource" or "2 resources".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return number(n) + " " + many
}

package webhook

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CommandPrefix starts a comment command: the first line of a merge request comment is "/gitops", then a
// command word and its arguments, separated by spaces. It is case-sensitive.
const CommandPrefix = "/gitops"

// Limits on a command line; a longer or odder one is answered with a usage reply, never run.
const (
	maxCommandLine = 1024 // bytes of the first line
	maxCommandWord = 32   // bytes of the command word
	maxArgs        = 32
	maxArg         = 128 // bytes of one argument
)

// command is the first line of a comment, read as a command.
type command struct {
	Word    string
	Args    []string
	Problem string // why the line cannot be used; Word is then cut to maxCommandWord and Args empty
}

// parseCommand reads a comment's body as a command: ok is false when its first line (after leading
// blank space) does not start with CommandPrefix as a whole word. The rest of the comment is ignored.
func parseCommand(note string) (c command, ok bool) {
	note = strings.TrimLeft(note, " \t\r\n")
	rest, found := strings.CutPrefix(note, CommandPrefix)
	if !found {
		return command{}, false
	}
	line, _, _ := strings.Cut(rest, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line != "" && line[0] != ' ' && line[0] != '\t' {
		return command{}, false // "/gitopsx" is not the command
	}
	if len(line) > maxCommandLine {
		return command{Word: firstWord(line[:maxCommandLine]), Problem: "the command line is longer than 1,024 bytes"}, true
	}
	if !utf8.ValidString(line) {
		return command{Word: firstWord(line), Problem: "the command line is not valid UTF-8"}, true
	}
	if strings.IndexFunc(line, odd) >= 0 {
		return command{Word: firstWord(line), Problem: "the command line holds control or formatting characters"}, true
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return command{}, true
	}
	c = command{Word: fields[0], Args: fields[1:]}
	switch {
	case len(c.Word) > maxCommandWord:
		return command{Word: firstWord(line), Problem: "the command word is longer than 32 bytes"}, true
	case len(c.Args) > maxArgs:
		return command{Word: c.Word, Problem: "the command has more than 32 arguments"}, true
	}
	for _, a := range c.Args {
		if len(a) > maxArg {
			return command{Word: c.Word, Problem: "an argument is longer than 128 bytes"}, true
		}
	}
	if len(c.Args) == 0 {
		c.Args = nil
	}
	return c, true
}

// odd reports characters a command line must not hold: control characters other than the tab, and
// invisible formatting characters (bidirectional overrides, zero-width joiners) that would make what a
// reviewer reads differ from what runs.
func odd(r rune) bool {
	return (unicode.IsControl(r) && r != '\t') || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
}

// firstWord is the first word of s, cut to maxCommandWord bytes on a character boundary, valid UTF-8.
func firstWord(s string) string {
	f := strings.Fields(strings.Map(func(r rune) rune {
		if odd(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "")))
	if len(f) == 0 {
		return ""
	}
	w := f[0]
	if len(w) <= maxCommandWord {
		return w
	}
	cut := maxCommandWord
	for cut > 0 && !utf8.RuneStart(w[cut]) {
		cut--
	}
	return w[:cut]
}

// usernameRE is what GitLab allows in a username.
var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}$`)

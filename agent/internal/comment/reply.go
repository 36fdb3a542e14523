package comment

import (
	"regexp"
	"strconv"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// ReplyMarker is the first line of every reply the agent posts to a comment command.
const ReplyMarker = "<!-- gitops-agent:reply -->"

// ReplyKey is how a reply starts: ReplyMarker, then a line naming the comment it answers. It tells the
// reply to one comment from the replies to others, so that posting it again edits it.
func ReplyKey(noteID int) string {
	return ReplyMarker + "\n<!-- in reply to note " + strconv.Itoa(noteID) + " -->\n"
}

// maxCommandShown bounds the command line a reply quotes, in bytes.
const maxCommandShown = 200

// maxTargetsShown bounds the stack and stage names a reply lists, of each kind.
const maxTargetsShown = 50

type replyView struct {
	Key      string
	Mention  string // the author, as a mention, or in code when the name is not a plain username
	Line     string // the command line, as typed, cut
	Command  string
	Commit   string
	Seen     string // the head commit the author saw
	State    string
	Required string
	Access   string
	Member   bool // the author has some access to the project
	Fork     bool
	Detail   string
	Targets  gitops.Targets
}

// RenderReply renders the reply to a comment command (o.Reply is not ReplyNone): first ReplyKey, then
// one paragraph that mentions the author and says what became of the command and why. Whatever the
// author typed is shown as code or escaped text, cut to a few hundred bytes.
func RenderReply(o gitops.CommandOutcome) string {
	req := o.Request
	line := strings.TrimSpace(strings.Join(append([]string{"/gitops", req.Command}, req.Args...), " "))
	v := replyView{
		Key:      ReplyKey(req.NoteID),
		Mention:  mention(req.Author),
		Line:     clip(line, maxCommandShown),
		Command:  clip(req.Command, maxName),
		Commit:   clip(o.Commit, maxName),
		Seen:     clip(req.HeadSHA, maxName),
		State:    clip(o.MRState, maxName),
		Required: o.Required.String(),
		Access:   o.Access.String(),
		Member:   o.Access > gitops.NoAccess,
		Fork:     o.Fork,
		Detail:   clip(o.Detail, maxMessage),
		Targets: gitops.Targets{
			UnknownStacks: names(o.Targets.UnknownStacks), UnknownStages: names(o.Targets.UnknownStages),
			Stacks: names(o.Targets.Stacks), Stages: names(o.Targets.Stages),
		},
	}
	kind := o.Reply
	if kind == gitops.ReplyNone {
		kind = gitops.ReplyFailed // a caller's mistake; say something rather than nothing
	}
	return execute("reply-"+string(kind), v)
}

// usernameRE is what GitLab allows in a username: such a name mentions exactly that user.
var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}$`)

// mention is "@name" for a plain username (GitLab notifies that user), else the name as code.
func mention(username string) string {
	if usernameRE.MatchString(username) {
		return "@" + text(username)
	}
	return code(clip(username, maxName))
}

// names cuts a list of names to maxTargetsShown, each to maxName bytes.
func names(in []string) []string {
	var out []string
	for i, n := range in {
		if i == maxTargetsShown {
			out = append(out, "…")
			break
		}
		out = append(out, clip(n, maxName))
	}
	return out
}

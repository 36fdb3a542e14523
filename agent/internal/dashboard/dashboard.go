// Package dashboard writes one CloudWatch dashboard per function and stage, rewritten at each release:
// graphs that set the release's new Lambda version against the previous one (invocations, errors, p99
// duration, throttles, per executed version of the alias), and the stage's API Gateway errors and
// latency when the function serves a REST API. It writes with the credentials and region of the
// CloudWatch client it is given (the stage's deploy role).
package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// Spec is what one release's dashboard shows.
type Spec struct {
	Region       string // the region of the function's metrics
	Stage        string
	FunctionName string
	Alias        string // the alias the release shifts traffic on
	OldVersion   string // the version the alias served before the release; empty or "$LATEST" on a first release
	NewVersion   string // the version the release brings
	APIName      string // API Gateway REST API name, optional
	APIStage     string // the API's stage; Stage when empty
}

// maxNameLen is the longest dashboard name CloudWatch accepts.
const maxNameLen = 255

// Name returns the name of the dashboard of a Lambda function's alias (the function's name differs per
// stage): "gitops-<function>-<alias>", each
// character but A-Z, a-z, 0-9, "-" and "_" replaced by "-", as CloudWatch allows no other. A name
// longer than CloudWatch's 255 characters is cut, and ends in a hash of the whole so that names that
// share a long start stay apart.
func Name(function, alias string) string {
	full := "gitops-" + function + "-" + alias
	name := strings.Map(func(r rune) rune {
		if r < 128 && nameChar(byte(r)) {
			return r
		}
		return '-'
	}, full)
	if len(name) <= maxNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(full))
	suffix := "-" + hex.EncodeToString(sum[:4])
	return name[:maxNameLen-len(suffix)] + suffix
}

func nameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// URL returns the dashboard's page in the CloudWatch console of region, the name path-escaped.
func URL(region, name string) string {
	return "https://" + region + ".console.aws.amazon.com/cloudwatch/home?region=" + url.QueryEscape(region) +
		"#dashboards/dashboard/" + url.PathEscape(name)
}

// The body's JSON, per CloudWatch's "Dashboard Body Structure and Syntax". Struct fields keep the order
// of the output fixed, so that the same Spec always gives the same bytes.
type (
	body struct {
		Start          string   `json:"start"`
		PeriodOverride string   `json:"periodOverride"`
		Widgets        []widget `json:"widgets"`
	}
	widget struct {
		Type       string `json:"type"`
		X          int    `json:"x"`
		Y          int    `json:"y"`
		Width      int    `json:"width"`
		Height     int    `json:"height"`
		Properties any    `json:"properties"`
	}
	textProps struct {
		Markdown string `json:"markdown"`
	}
	metricProps struct {
		Title   string  `json:"title"`
		View    string  `json:"view"`
		Stacked bool    `json:"stacked"`
		Region  string  `json:"region"`
		Stat    string  `json:"stat"`
		Period  int     `json:"period"`
		Metrics [][]any `json:"metrics"`
	}
	// options is the rendering object that may end a metric's array.
	options struct {
		Label string `json:"label"`
		Color string `json:"color,omitempty"`
	}
)

// Layout of the 24-column grid: a text header, then graphs two to a row.
const (
	gridWidth    = 24
	headerHeight = 3
	graphWidth   = 12
	graphHeight  = 6
	period       = 60 // seconds: a canary's window is minutes
)

// Colours of the lines, fixed so that the new version looks the same on every graph.
const (
	newColor = "#ff7f0e"
	oldColor = "#1f77b4"
)

// graph is one metric widget before layout.
type graph struct {
	namespace, metric, stat, title string
	lines                          [][]any
}

// Body returns the dashboard body for s: a text widget naming function, stage, alias and versions,
// then metric widgets of the function's Invocations, Errors and Duration (p99), one line
// per executed version of the alias (dimensions FunctionName, Resource "<function>:<alias>",
// ExecutedVersion), the new version's and, unless OldVersion is empty or "$LATEST", the previous
// one's; Throttles of the alias (a throttled call runs no version); and, when APIName is set, the API's 5XXError and Latency (p99) for ApiName and Stage. The
// same Spec always gives the same bytes. FunctionName, Alias, NewVersion and Region are required.
func Body(s Spec) ([]byte, error) {
	var missing []string
	for _, f := range []struct{ name, value string }{{"FunctionName", s.FunctionName}, {"Alias", s.Alias}, {"NewVersion", s.NewVersion}, {"Region", s.Region}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("dashboard of function %q in stage %q: %s must be set", s.FunctionName, s.Stage, strings.Join(missing, ", "))
	}
	newLabel, oldLabel := label(s.NewVersion)+" (new)", ""
	if hasOld(s) {
		oldLabel = label(s.OldVersion) + " (previous)"
	}
	versions := newLabel
	if oldLabel != "" {
		versions += " vs " + oldLabel
	}
	resource := s.FunctionName + ":" + s.Alias
	lambda := func(metric, stat string) graph {
		g := graph{namespace: "AWS/Lambda", metric: metric, stat: stat, title: metric + " (" + stat + ") — " + versions}
		line := func(version, label, color string) []any {
			return []any{"AWS/Lambda", metric, "FunctionName", s.FunctionName, "Resource", resource, "ExecutedVersion", version,
				options{Label: label, Color: color}}
		}
		g.lines = append(g.lines, line(s.NewVersion, newLabel, newColor))
		if oldLabel != "" {
			g.lines = append(g.lines, line(s.OldVersion, oldLabel, oldColor))
		}
		return g
	}
	// A throttled call runs no version, so Throttles has no ExecutedVersion: the alias's total is shown.
	throttles := graph{namespace: "AWS/Lambda", metric: "Throttles", stat: "Sum", title: "Throttles (Sum) — alias " + s.Alias,
		lines: [][]any{{"AWS/Lambda", "Throttles", "FunctionName", s.FunctionName, "Resource", resource, options{Label: resource, Color: newColor}}}}
	graphs := []graph{lambda("Invocations", "Sum"), lambda("Errors", "Sum"), lambda("Duration", "p99"), throttles}
	if s.APIName != "" {
		apiStage := apiStage(s)
		api := func(metric, stat string) graph {
			return graph{namespace: "AWS/ApiGateway", metric: metric, stat: stat,
				title: fmt.Sprintf("API %s (%s) — %s %s", metric, stat, s.APIName, apiStage),
				lines: [][]any{{"AWS/ApiGateway", metric, "ApiName", s.APIName, "Stage", apiStage, options{Label: s.APIName + " " + apiStage}}}}
		}
		graphs = append(graphs, api("5XXError", "Sum"), api("Latency", "p99"))
	}

	widgets := []widget{{Type: "text", Width: gridWidth, Height: headerHeight, Properties: textProps{Markdown: header(s, newLabel, oldLabel)}}}
	for i, g := range graphs {
		widgets = append(widgets, widget{
			Type: "metric", X: i % 2 * graphWidth, Y: headerHeight + i/2*graphHeight, Width: graphWidth, Height: graphHeight,
			Properties: metricProps{Title: g.title, View: "timeSeries", Region: s.Region, Stat: g.stat, Period: period, Metrics: g.lines},
		})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body{Start: "-PT3H", PeriodOverride: "inherit", Widgets: widgets}); err != nil {
		return nil, fmt.Errorf("dashboard of function %q in stage %q: encode body: %w", s.FunctionName, s.Stage, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// hasOld reports whether s names a previous version to compare with.
func hasOld(s Spec) bool {
	return s.OldVersion != "" && s.OldVersion != "$LATEST"
}

func apiStage(s Spec) string {
	if s.APIStage != "" {
		return s.APIStage
	}
	return s.Stage
}

// label names a version: "v12" for a published version, the version as it is otherwise ("$LATEST").
func label(version string) string {
	if _, err := strconv.ParseUint(version, 10, 64); err == nil {
		return "v" + version
	}
	return version
}

// header is the markdown of the text widget at the top of the dashboard.
func header(s Spec, newLabel, oldLabel string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s · %s\n", mdEscape(s.FunctionName), mdEscape(s.Stage))
	fmt.Fprintf(&b, "Alias **%s**: %s", mdEscape(s.Alias), mdEscape(newLabel))
	if oldLabel != "" {
		fmt.Fprintf(&b, ", %s", mdEscape(oldLabel))
	} else {
		b.WriteString(", first release (no previous version)")
	}
	if s.APIName != "" {
		fmt.Fprintf(&b, " · API %s, stage %s", mdEscape(s.APIName), mdEscape(apiStage(s)))
	}
	b.WriteString("\n\nWritten by the GitOps agent at each release; changes made in the console are overwritten.")
	return b.String()
}

// mdEscape backslash-escapes the characters that markdown would read as emphasis or markup.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]#<>|", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Writer writes release dashboards through one CloudWatch client. It is safe for concurrent use.
type Writer struct {
	client *cloudwatch.Client
}

// New returns a Writer over client.
func New(client *cloudwatch.Client) *Writer {
	return &Writer{client: client}
}

// Put creates or replaces the dashboard of s's function and stage (Name) with the body of s (Body), and
// returns its name. A Spec that Body refuses is an error before any call; so is a failed call (the SDK's
// error, wrapped with the dashboard's name and region, and with CloudWatch's validation messages when
// it refused the body), and an answer that carries validation messages: a dashboard that may not render
// as written is not one to watch a release on.
func (w *Writer) Put(ctx context.Context, s Spec) (name string, err error) {
	b, err := Body(s)
	if err != nil {
		return "", err
	}
	name = Name(s.FunctionName, s.Alias)
	if err := w.put(ctx, name, string(b)); err != nil {
		return "", err
	}
	return name, nil
}

// put writes body as the dashboard name.
func (w *Writer) put(ctx context.Context, name, body string) error {
	region := w.client.Options().Region
	out, err := w.client.PutDashboard(ctx, &cloudwatch.PutDashboardInput{DashboardName: aws.String(name), DashboardBody: aws.String(body)})
	if err != nil {
		var invalid *types.DashboardInvalidInputError
		if errors.As(err, &invalid) && len(invalid.DashboardValidationMessages) > 0 {
			return fmt.Errorf("put dashboard %q in region %s: %w (validation messages: %s)", name, region, err, messages(invalid.DashboardValidationMessages))
		}
		return fmt.Errorf("put dashboard %q in region %s: %w", name, region, err)
	}
	if len(out.DashboardValidationMessages) > 0 {
		return fmt.Errorf("put dashboard %q in region %s: CloudWatch answered %d validation messages: %s",
			name, region, len(out.DashboardValidationMessages), messages(out.DashboardValidationMessages))
	}
	return nil
}

// messages lists validation messages as "<data path>: <message>", separated by "; ".
func messages(ms []types.DashboardValidationMessage) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = aws.ToString(m.DataPath) + ": " + aws.ToString(m.Message)
	}
	return strings.Join(parts, "; ")
}

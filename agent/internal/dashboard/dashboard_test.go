package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/alarms/cloudwatchfake"
)

// stageKey is the access key id the tests' clients sign with, standing for a stage role's credentials.
const stageKey = "ASIASTAGEROLEDEV"

func newWriter(t testing.TB) (*cloudwatchfake.Server, *Writer) {
	t.Helper()
	fake := cloudwatchfake.New(t)
	return fake, New(fake.Client(stageKey))
}

func release() Spec {
	return Spec{Region: cloudwatchfake.Region, Stage: "dev", FunctionName: "documents-api", Alias: "live",
		OldVersion: "11", NewVersion: "12", APIName: "documents", APIStage: "v1"}
}

// parsed is the part of a dashboard body the tests read.
type parsed struct {
	Widgets []struct {
		Type                string
		X, Y, Width, Height int
		Properties          struct {
			Markdown string
			Title    string
			Region   string
			Stat     string
			Metrics  [][]any
		}
	}
}

func parse(t *testing.T, body []byte) parsed {
	t.Helper()
	var p parsed
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	return p
}

// line is one metric line: namespace, metric, its dimensions and its label.
type line struct {
	Namespace, Metric, Label string
	Dims                     map[string]string
}

func lines(t *testing.T, metrics [][]any) []line {
	t.Helper()
	var out []line
	for _, m := range metrics {
		l := line{Namespace: m[0].(string), Metric: m[1].(string), Dims: map[string]string{}}
		rest := m[2:]
		if opts, ok := rest[len(rest)-1].(map[string]any); ok {
			l.Label, _ = opts["label"].(string)
			rest = rest[:len(rest)-1]
		}
		if len(rest)%2 != 0 {
			t.Fatalf("metric %v: dimensions are not name, value pairs", m)
		}
		for i := 0; i < len(rest); i += 2 {
			l.Dims[rest[i].(string)] = rest[i+1].(string)
		}
		out = append(out, l)
	}
	return out
}

func lambdaLine(metric, version, label string) line {
	return line{Namespace: "AWS/Lambda", Metric: metric, Label: label,
		Dims: map[string]string{"FunctionName": "documents-api", "Resource": "documents-api:live", "ExecutedVersion": version}}
}

func TestPutStoresBody(t *testing.T) {
	fake, w := newWriter(t)
	name, err := w.Put(context.Background(), release())
	if err != nil {
		t.Fatal(err)
	}
	if name != "gitops-documents-api-live" {
		t.Errorf("name %q, want gitops-documents-api-live", name)
	}
	stored, ok := fake.Dashboard(name)
	if !ok {
		t.Fatalf("no dashboard %q stored", name)
	}
	want, _ := Body(release())
	if !bytes.Equal(stored, want) {
		t.Errorf("stored body is not Body(spec):\n%s\n%s", stored, want)
	}
	p := parse(t, stored)
	if len(p.Widgets) != 7 {
		t.Fatalf("%d widgets, want a text widget and 6 graphs", len(p.Widgets))
	}
	head := p.Widgets[0]
	for _, s := range []string{"documents-api", "dev", "live", "v12 (new)", "v11 (previous)", "API documents, stage v1"} {
		if head.Type != "text" || !strings.Contains(head.Properties.Markdown, s) {
			t.Errorf("header widget %s %q does not name %q", head.Type, head.Properties.Markdown, s)
		}
	}
	type graph struct {
		Stat  string
		Lines []line
	}
	var got []graph
	for i, wg := range p.Widgets[1:] {
		if wg.Type != "metric" || wg.Properties.Region != "eu-west-1" || wg.Width != 12 || wg.Height != 6 {
			t.Errorf("widget %d: %s in %q, %dx%d", i+1, wg.Type, wg.Properties.Region, wg.Width, wg.Height)
		}
		if l := lines(t, wg.Properties.Metrics); l[0].Namespace == "AWS/Lambda" && l[0].Metric != "Throttles" &&
			(!strings.Contains(wg.Properties.Title, "v12 (new)") || !strings.Contains(wg.Properties.Title, "v11 (previous)")) {
			t.Errorf("widget %d: title %q does not say which version is which", i+1, wg.Properties.Title)
		}
		got = append(got, graph{wg.Properties.Stat, lines(t, wg.Properties.Metrics)})
	}
	both := func(metric, stat string) graph {
		return graph{stat, []line{lambdaLine(metric, "12", "v12 (new)"), lambdaLine(metric, "11", "v11 (previous)")}}
	}
	api := func(metric, stat string) graph {
		return graph{stat, []line{{Namespace: "AWS/ApiGateway", Metric: metric, Label: "documents v1", Dims: map[string]string{"ApiName": "documents", "Stage": "v1"}}}}
	}
	// A throttled call runs no version: Throttles is the alias's, without ExecutedVersion.
	throttles := graph{"Sum", []line{{Namespace: "AWS/Lambda", Metric: "Throttles", Label: "documents-api:live",
		Dims: map[string]string{"FunctionName": "documents-api", "Resource": "documents-api:live"}}}}
	if diff := cmp.Diff([]graph{both("Invocations", "Sum"), both("Errors", "Sum"), both("Duration", "p99"), throttles,
		api("5XXError", "Sum"), api("Latency", "p99")}, got); diff != "" {
		t.Errorf("graphs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{stageKey}, fake.AccessKeys()); diff != "" {
		t.Errorf("access keys (-want +got):\n%s", diff)
	}
}

func TestPutRewritesAtEachRelease(t *testing.T) {
	fake, w := newWriter(t)
	ctx := context.Background()
	s := release()
	s.APIName, s.APIStage = "", ""
	if _, err := w.Put(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.OldVersion, s.NewVersion = "12", "13"
	name, err := w.Put(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := fake.Dashboard(name)
	p := parse(t, stored)
	if len(p.Widgets) != 5 {
		t.Fatalf("%d widgets without an API, want a text widget and 4 graphs", len(p.Widgets))
	}
	if bytes.Contains(stored, []byte("AWS/ApiGateway")) || bytes.Contains(stored, []byte("v11")) {
		t.Errorf("second release's body still shows an API or v11:\n%s", stored)
	}
	if diff := cmp.Diff([]line{lambdaLine("Errors", "13", "v13 (new)"), lambdaLine("Errors", "12", "v12 (previous)")},
		lines(t, p.Widgets[2].Properties.Metrics)); diff != "" {
		t.Errorf("errors graph (-want +got):\n%s", diff)
	}
	// The API's stage defaults to the release's stage.
	s.APIName = "documents"
	stored, _ = Body(s)
	last := parse(t, stored).Widgets[6]
	if diff := cmp.Diff([]line{{Namespace: "AWS/ApiGateway", Metric: "Latency", Label: "documents dev", Dims: map[string]string{"ApiName": "documents", "Stage": "dev"}}},
		lines(t, last.Properties.Metrics)); diff != "" || last.Properties.Stat != "p99" {
		t.Errorf("API latency graph, stat %q (-want +got):\n%s", last.Properties.Stat, diff)
	}
}

func TestFirstReleaseShowsOnlyTheNewVersion(t *testing.T) {
	for _, old := range []string{"", "$LATEST"} {
		s := release()
		s.OldVersion = old
		body, err := Body(s)
		if err != nil {
			t.Fatal(err)
		}
		p := parse(t, body)
		if !strings.Contains(p.Widgets[0].Properties.Markdown, "first release") {
			t.Errorf("old %q: header %q does not say it is a first release", old, p.Widgets[0].Properties.Markdown)
		}
		for _, wg := range p.Widgets[1:4] {
			if diff := cmp.Diff([]line{lambdaLine(lines(t, wg.Properties.Metrics)[0].Metric, "12", "v12 (new)")}, lines(t, wg.Properties.Metrics)); diff != "" {
				t.Errorf("old %q: %s (-want +got):\n%s", old, wg.Properties.Title, diff)
			}
			if strings.Contains(wg.Properties.Title, "previous") {
				t.Errorf("old %q: title %q names a previous version", old, wg.Properties.Title)
			}
		}
	}
}

func TestBodyDeterministic(t *testing.T) {
	first, err := Body(release())
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if again, _ := Body(release()); !bytes.Equal(first, again) {
			t.Fatalf("Body differs between calls:\n%s\n%s", first, again)
		}
	}
	if !json.Valid(first) || bytes.HasSuffix(first, []byte("\n")) || bytes.Contains(first, []byte(`\u003c`)) {
		t.Errorf("body is not compact, unescaped JSON: %s", first)
	}
}

func TestBodyRequires(t *testing.T) {
	for _, field := range []string{"FunctionName", "Alias", "NewVersion", "Region"} {
		s := release()
		switch field {
		case "FunctionName":
			s.FunctionName = ""
		case "Alias":
			s.Alias = ""
		case "NewVersion":
			s.NewVersion = ""
		case "Region":
			s.Region = ""
		}
		fake, w := newWriter(t)
		if _, err := w.Put(context.Background(), s); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("without %s: got %v, want an error naming it", field, err)
		}
		if n := len(fake.AccessKeys()); n != 0 {
			t.Errorf("without %s: %d calls, want none", field, n)
		}
	}
}

func TestName(t *testing.T) {
	long := strings.Repeat("f", 300)
	for _, tc := range []struct{ function, alias, want string }{
		{"documents-api-dev", "live", "gitops-documents-api-dev-live"},
		{"documents_api", "prod", "gitops-documents_api-prod"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:docs", "dev", "gitops-arn-aws-lambda-eu-west-1-123456789012-function-docs-dev"},
		{"docs api", "pré/prod", "gitops-docs-api-pr--prod"}, // é, one character, is one "-"
	} {
		if got := Name(tc.function, tc.alias); got != tc.want {
			t.Errorf("Name(%q, %q) = %q, want %q", tc.function, tc.alias, got, tc.want)
		}
	}
	a, b := Name(long, "dev"), Name(long, "prod")
	if len(a) != 255 || len(b) != 255 || a == b || !strings.HasPrefix(a, "gitops-fff") {
		t.Errorf("long names: %q (%d), %q (%d): want 255 characters each, and apart", a, len(a), b, len(b))
	}
	if a != Name(long, "dev") {
		t.Error("a long name differs between calls")
	}
}

func TestURL(t *testing.T) {
	want := "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/gitops-documents-api-dev"
	if got := URL("eu-west-1", Name("documents-api", "dev")); got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if got := URL("eu-west-1", "a b/c"); !strings.HasSuffix(got, "#dashboards/dashboard/a%20b%2Fc") {
		t.Errorf("URL of an unsanitized name = %q, want it escaped", got)
	}
}

// TestPutRefused drives put with bodies and names the fake refuses, as CloudWatch does, through the SDK.
func TestPutRefused(t *testing.T) {
	fake, w := newWriter(t)
	ctx := context.Background()
	b, _ := Body(release())
	good := string(b)
	for _, tc := range []struct {
		name, dashboard, body string
		wantIn                []string // what the error must say
	}{
		{"not JSON", "d", `{"widgets": [`, []string{"valid JSON object"}},
		{"no widgets", "d", `{"start": "-PT3H"}`, []string{"'widgets'"}},
		{"unknown type", "d", `{"widgets": [{"type": "graph", "properties": {}}]}`, []string{"/widgets/0/type"}},
		{"metric without region", "d", `{"widgets": [{"type": "text", "properties": {"markdown": "x"}}, {"type": "metric", "properties": {"metrics": [["AWS/Lambda", "Errors"]]}}]}`,
			[]string{"1 validation errors", "/widgets/1/properties: Should have required property 'region'"}},
		{"metric without metrics", "d", `{"widgets": [{"type": "metric", "properties": {"region": "eu-west-1"}}]}`, []string{"'metrics'"}},
		{"bad name", "gitops-docs.api", good, []string{"invalid characters"}},
		{"long name", strings.Repeat("d", 256), good, []string{"1 to 255"}},
	} {
		err := w.put(ctx, tc.dashboard, tc.body)
		var invalid *types.DashboardInvalidInputError
		var api smithy.APIError
		if !errors.As(err, &invalid) || !errors.As(err, &api) || api.ErrorCode() != "InvalidParameterInput" || api.ErrorFault() != smithy.FaultClient {
			t.Errorf("%s: got %v, want DashboardInvalidInputError with code InvalidParameterInput", tc.name, err)
			continue
		}
		for _, s := range append(tc.wantIn, fmt.Sprintf("put dashboard %q in region eu-west-1", tc.dashboard)) {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, s)
			}
		}
		if _, ok := fake.Dashboard(tc.dashboard); ok {
			t.Errorf("%s: the fake stored a refused dashboard", tc.name)
		}
	}

	// A body valid enough to store, answered with a warning, is an error all the same.
	err := w.put(ctx, "d", `{"widgets": [{"type": "text", "x": 20, "width": 12, "properties": {"markdown": "x"}}]}`)
	if err == nil || !strings.Contains(err.Error(), "1 validation messages: /widgets/0: The widget extends beyond") {
		t.Errorf("warning: got %v, want an error naming the validation message", err)
	}
	if _, ok := fake.Dashboard("d"); !ok {
		t.Error("warning: the fake did not store the dashboard")
	}
}

func TestPutFails(t *testing.T) {
	fake, w := newWriter(t)
	fake.Fail(-1)
	_, err := w.Put(context.Background(), release())
	var fault *types.InternalServiceFault
	if !errors.As(err, &fault) || !strings.Contains(err.Error(), `put dashboard "gitops-documents-api-live" in region eu-west-1`) {
		t.Errorf("got %v, want InternalServiceFault wrapped with the dashboard's name", err)
	}
	fake.Fail(0)
	// The fake's other operation is unchanged beside dashboards.
	if _, err := w.Put(context.Background(), release()); err != nil {
		t.Fatal(err)
	}
	fake.Put(cloudwatchfake.Alarm{Name: "documents-api-dev-errors"})
	out, err := fake.Client(stageKey).DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{})
	if err != nil || len(out.MetricAlarms) != 1 || aws.ToString(out.MetricAlarms[0].AlarmName) != "documents-api-dev-errors" {
		t.Errorf("DescribeAlarms beside dashboards: %v, %v", out, err)
	}
}

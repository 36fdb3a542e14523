package cloudwatchfake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/google/go-cmp/cmp"
)

var at = time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)

func names(out *cloudwatch.DescribeAlarmsOutput) []string {
	var n []string
	for _, a := range out.MetricAlarms {
		n = append(n, "metric:"+aws.ToString(a.AlarmName))
	}
	for _, a := range out.CompositeAlarms {
		n = append(n, "composite:"+aws.ToString(a.AlarmName))
	}
	return n
}

func setUp(t *testing.T) (*Server, *cloudwatch.Client) {
	t.Helper()
	s := New(t)
	s.Put(Alarm{Name: "api-errors", State: types.StateValueAlarm, Reason: "too many", Updated: at})
	s.Put(Alarm{Name: "api-p99", Updated: at})
	s.Put(Alarm{Name: "api-health", Type: types.AlarmTypeCompositeAlarm, Rule: `ALARM("api-errors")`, State: types.StateValueOk, Updated: at})
	s.Put(Alarm{Name: "db-cpu", State: types.StateValueOk, Updated: at})
	return s, s.Client("AKIDTEST")
}

func TestDescribeAlarmsFilters(t *testing.T) {
	_, c := setUp(t)
	both := []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm}
	for _, tc := range []struct {
		name string
		in   cloudwatch.DescribeAlarmsInput
		want []string
	}{
		{"no filter: metric alarms only", cloudwatch.DescribeAlarmsInput{}, []string{"metric:api-errors", "metric:api-p99", "metric:db-cpu"}},
		{"both types", cloudwatch.DescribeAlarmsInput{AlarmTypes: both}, []string{"metric:api-errors", "metric:api-p99", "metric:db-cpu", "composite:api-health"}},
		{"composite only", cloudwatch.DescribeAlarmsInput{AlarmTypes: both[1:]}, []string{"composite:api-health"}},
		{"prefix", cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("api-"), AlarmTypes: both}, []string{"metric:api-errors", "metric:api-p99", "composite:api-health"}},
		{"names", cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"db-cpu", "api-health", "nope"}, AlarmTypes: both}, []string{"metric:db-cpu", "composite:api-health"}},
		{"state", cloudwatch.DescribeAlarmsInput{StateValue: types.StateValueInsufficientData}, []string{"metric:api-p99"}},
	} {
		out, err := c.DescribeAlarms(context.Background(), &tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, names(out)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestDescribeAlarmsFields(t *testing.T) {
	_, c := setUp(t)
	out, err := c.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"api-errors", "api-health"},
		AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm}})
	if err != nil {
		t.Fatal(err)
	}
	m, cm := out.MetricAlarms[0], out.CompositeAlarms[0]
	got := []any{aws.ToString(m.AlarmArn), m.StateValue, aws.ToString(m.StateReason), aws.ToTime(m.StateUpdatedTimestamp).UTC(), aws.ToFloat64(m.Threshold),
		aws.ToString(cm.AlarmRule), cm.StateValue, aws.ToTime(cm.StateUpdatedTimestamp).UTC()}
	want := []any{"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-errors", types.StateValueAlarm, "too many", at, 1.0,
		`ALARM("api-errors")`, types.StateValueOk, at}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestDescribeAlarmsPaginates(t *testing.T) {
	s := New(t)
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("a-%02d", i)
		s.Put(Alarm{Name: name})
		want = append(want, "metric:"+name)
	}
	c := s.Client("AKIDTEST")
	pages := cloudwatch.NewDescribeAlarmsPaginator(c, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(5)})
	var got []string
	n := 0
	for pages.HasMorePages() {
		out, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(out.MetricAlarms) > 5 {
			t.Errorf("page of %d alarms, MaxRecords 5", len(out.MetricAlarms))
		}
		got = append(got, names(out)...)
		n++
		if n == 2 { // an alarm added mid-listing, after the cursor, shows up once; one before it does not
			s.Put(Alarm{Name: "a-00a"})
			s.Put(Alarm{Name: "a-99"})
		}
	}
	if diff := cmp.Diff(append(want, "metric:a-99"), got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
}

func TestDescribeAlarmsErrors(t *testing.T) {
	s, c := setUp(t)
	ctx := context.Background()
	first, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(1)})
	if err != nil || first.NextToken == nil {
		t.Fatalf("first page: %v, token %v", err, first)
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprint("n", i)
	}
	for _, tc := range []struct {
		name   string
		in     cloudwatch.DescribeAlarmsInput
		target any // a pointer to the error type wanted
		code   string
	}{
		{"unknown token", cloudwatch.DescribeAlarmsInput{NextToken: aws.String("bogus")}, new(*types.InvalidNextToken), "InvalidNextToken"},
		{"token of another query", cloudwatch.DescribeAlarmsInput{NextToken: first.NextToken, AlarmNamePrefix: aws.String("api-")}, new(*types.InvalidNextToken), "InvalidNextToken"},
		{"names and prefix", cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}, AlarmNamePrefix: aws.String("a")}, new(*types.InvalidParameterCombinationException), "InvalidParameterCombination"},
		{"101 names", cloudwatch.DescribeAlarmsInput{AlarmNames: many}, new(*types.InvalidParameterValueException), "InvalidParameterValue"},
		{"MaxRecords 101", cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(101)}, new(*types.InvalidParameterValueException), "InvalidParameterValue"},
		{"unsupported filter", cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String("arn:")}, new(*types.InvalidParameterValueException), "InvalidParameterValue"},
	} {
		_, err := c.DescribeAlarms(ctx, &tc.in)
		var api smithy.APIError
		if !errors.As(err, tc.target) || !errors.As(err, &api) || api.ErrorCode() != tc.code || api.ErrorFault() != smithy.FaultClient {
			t.Errorf("%s: got %v, want %T with code %s", tc.name, err, tc.target, tc.code)
		}
	}

	s.Fail(-1)
	_, err = c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	var fault *types.InternalServiceFault
	if !errors.As(err, &fault) || fault.ErrorCode() != "InternalServiceError" || fault.ErrorMessage() != "injected failure" {
		t.Errorf("injected failure: got %v, want InternalServiceFault with query code InternalServiceError", err)
	}
	s.Fail(0)
	if _, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{}); err != nil {
		t.Errorf("after Fail(0): %v", err)
	}
}

func TestSignatureAndKeys(t *testing.T) {
	s, _ := setUp(t)
	ctx := context.Background()
	for _, key := range []string{"AKIDONE", "ASIATWO"} {
		if _, err := s.Client(key).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	anon := s.Client("", func(o *cloudwatch.Options) { o.Credentials = aws.AnonymousCredentials{} })
	_, err := anon.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "MissingAuthenticationToken" {
		t.Errorf("unsigned call: got %v, want MissingAuthenticationToken", err)
	}
	if diff := cmp.Diff([]string{"AKIDONE", "ASIATWO"}, s.AccessKeys()); diff != "" {
		t.Errorf("access keys (-want +got):\n%s", diff)
	}
}

// TestWire checks the raw exchange: the protocol headers of an answer and a CBOR error body.
func TestWire(t *testing.T) {
	s := New(t)
	for _, tc := range []struct {
		path, protocol string
		status         int
		typ            string
	}{
		{servicePath + "DescribeAlarms", "rpc-v2-cbor", http.StatusForbidden, "com.amazonaws.cloudwatch#MissingAuthenticationToken"},
		{servicePath + "PutMetricAlarm", "rpc-v2-cbor", http.StatusNotFound, "com.amazonaws.cloudwatch#UnknownOperationException"},
		{servicePath + "DescribeAlarms", "", http.StatusBadRequest, "com.amazonaws.cloudwatch#SerializationException"},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+tc.path, bytes.NewReader(cbor.Encode(cbor.Map{})))
		req.Header.Set("Content-Type", "application/cbor")
		if tc.protocol != "" {
			req.Header.Set("Smithy-Protocol", tc.protocol)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		v, err := cbor.Decode(body)
		m, _ := v.(cbor.Map)
		if resp.StatusCode != tc.status || err != nil || m["__type"] != cbor.String(tc.typ) ||
			resp.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || resp.Header.Get("Content-Type") != "application/cbor" {
			t.Errorf("POST %s: %d %v %v (%v), want %d with __type %s and the protocol headers", tc.path, resp.StatusCode, resp.Header, v, err, tc.status, tc.typ)
		}
	}
}

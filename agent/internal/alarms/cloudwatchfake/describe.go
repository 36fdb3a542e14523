package cloudwatchfake

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/encoding/cbor"
)

const (
	maxAlarmNames     = 100
	defaultMaxRecords = 50
	maxMaxRecords     = 100
)

// query is a decoded DescribeAlarmsInput.
type query struct {
	names      []string
	prefix     *string
	types      []types.AlarmType
	state      types.StateValue
	maxRecords int
	nextToken  *string
}

// key identifies the query's filters, so that a NextToken serves only the query that got it.
func (q query) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "names=%q types=%q state=%q", q.names, q.types, q.state)
	if q.prefix != nil {
		fmt.Fprintf(&b, " prefix=%q", *q.prefix)
	}
	return b.String()
}

// apiError is an error CloudWatch answers: status, query code (header), shape name and message member.
type apiError struct {
	status    int
	queryCode string
	shape     string
	message   string
}

func invalidValue(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameterValue;Sender", "InvalidParameterValueException", fmt.Sprintf(format, args...)}
}

// readInput decodes the CBOR body of a request into its top-level map (empty for an empty body).
func readInput(w http.ResponseWriter, r *http.Request) (cbor.Map, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) == 0 {
		return cbor.Map{}, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/cbor" {
		return nil, fmt.Errorf("Content-Type %q, want application/cbor", ct)
	}
	v, err := cbor.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("decode CBOR body: %w", err)
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return nil, fmt.Errorf("body is a CBOR %T, want a map", v)
	}
	return m, nil
}

// parseQuery reads and validates DescribeAlarms's input members.
func parseQuery(in cbor.Map) (query, *apiError) {
	q := query{maxRecords: defaultMaxRecords}
	for name, v := range in {
		var bad bool
		switch name {
		case "AlarmNames":
			q.names, bad = stringList(v)
		case "AlarmNamePrefix":
			s, ok := v.(cbor.String)
			q.prefix, bad = (*string)(&s), !ok
		case "AlarmTypes":
			var ts []string
			ts, bad = stringList(v)
			for _, t := range ts {
				if t != string(types.AlarmTypeMetricAlarm) && t != string(types.AlarmTypeCompositeAlarm) {
					return q, invalidValue("AlarmTypes: %q is not MetricAlarm or CompositeAlarm", t)
				}
				q.types = append(q.types, types.AlarmType(t))
			}
		case "StateValue":
			s, ok := v.(cbor.String)
			q.state, bad = types.StateValue(s), !ok
			if ok && !slices.Contains(types.StateValue("").Values(), q.state) {
				return q, invalidValue("StateValue: %q is not OK, ALARM or INSUFFICIENT_DATA", s)
			}
		case "MaxRecords":
			u, ok := v.(cbor.Uint)
			if !ok || u < 1 || u > maxMaxRecords {
				return q, invalidValue("MaxRecords must be from 1 to %d", maxMaxRecords)
			}
			q.maxRecords = int(u)
		case "NextToken":
			s, ok := v.(cbor.String)
			q.nextToken, bad = (*string)(&s), !ok
		case "ActionPrefix", "ChildrenOfAlarmName", "ParentsOfAlarmName":
			return q, invalidValue("%s is not supported by cloudwatchfake", name)
		default:
			return q, invalidValue("DescribeAlarmsInput has no member %q", name)
		}
		if bad {
			return q, invalidValue("%s has the wrong CBOR type %T", name, v)
		}
	}
	switch {
	case len(q.names) > maxAlarmNames:
		return q, invalidValue("AlarmNames has %d members; at most %d are allowed", len(q.names), maxAlarmNames)
	case len(q.names) > 0 && q.prefix != nil:
		return q, &apiError{http.StatusBadRequest, "InvalidParameterCombination;Sender", "InvalidParameterCombinationException",
			"AlarmNamePrefix and AlarmNames cannot be specified together"}
	}
	if len(q.types) == 0 {
		q.types = []types.AlarmType{types.AlarmTypeMetricAlarm} // CloudWatch's default
	}
	slices.Sort(q.names)
	q.names = slices.Compact(q.names)
	return q, nil
}

func stringList(v cbor.Value) ([]string, bool) {
	l, ok := v.(cbor.List)
	if !ok {
		return nil, true
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(cbor.String)
		if !ok {
			return nil, true
		}
		out = append(out, string(s))
	}
	return out, false
}

// describeAlarms answers DescribeAlarms: the matching alarms in name order, one page at a time.
func (s *Server) describeAlarms(w http.ResponseWriter, in cbor.Map) {
	q, aerr := parseQuery(in)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var after string
	if q.nextToken != nil {
		c, ok := s.tokens[*q.nextToken]
		if !ok || c.key != q.key() {
			writeAPIError(w, &apiError{http.StatusBadRequest, "InvalidNextToken;Sender", "InvalidNextToken", "The service returned an invalid NextToken."})
			return
		}
		after = c.after
	}
	var page []Alarm
	more := false
	for _, name := range slices.Sorted(maps.Keys(s.alarms)) {
		a := s.alarms[name]
		if name <= after && q.nextToken != nil || !q.matches(a) {
			continue
		}
		if len(page) == q.maxRecords {
			more = true
			break
		}
		page = append(page, a)
	}
	metric, composite := cbor.List{}, cbor.List{}
	for _, a := range page {
		if a.Type == types.AlarmTypeCompositeAlarm {
			composite = append(composite, compositeAlarm(a))
		} else {
			metric = append(metric, metricAlarm(a))
		}
	}
	out := cbor.Map{"MetricAlarms": metric, "CompositeAlarms": composite}
	if more {
		out["NextToken"] = cbor.String(s.newToken(cursor{key: q.key(), after: page[len(page)-1].Name}))
	}
	writeCBOR(w, http.StatusOK, out)
}

func (q query) matches(a Alarm) bool {
	switch {
	case !slices.Contains(q.types, a.Type):
		return false
	case len(q.names) > 0 && !slices.Contains(q.names, a.Name):
		return false
	case q.prefix != nil && !strings.HasPrefix(a.Name, *q.prefix):
		return false
	case q.state != "" && q.state != a.State:
		return false
	}
	return true
}

// metricAlarm encodes a as a MetricAlarm structure: its state, and a fixed Lambda errors metric.
func metricAlarm(a Alarm) cbor.Map {
	m := common(a)
	m["MetricName"] = cbor.String("Errors")
	m["Namespace"] = cbor.String("AWS/Lambda")
	m["Statistic"] = cbor.String("Sum")
	m["Period"] = cbor.Uint(60)
	m["EvaluationPeriods"] = cbor.Uint(1)
	m["Threshold"] = cbor.Float64(1)
	m["ComparisonOperator"] = cbor.String("GreaterThanOrEqualToThreshold")
	m["TreatMissingData"] = cbor.String("notBreaching")
	return m
}

// compositeAlarm encodes a as a CompositeAlarm structure.
func compositeAlarm(a Alarm) cbor.Map {
	m := common(a)
	m["AlarmRule"] = cbor.String(a.Rule)
	return m
}

func common(a Alarm) cbor.Map {
	stamp := timestamp(a.Updated.UnixMilli())
	return cbor.Map{
		"AlarmName":                          cbor.String(a.Name),
		"AlarmArn":                           cbor.String(ARN(a.Name)),
		"StateValue":                         cbor.String(a.State),
		"StateReason":                        cbor.String(a.Reason),
		"StateUpdatedTimestamp":              stamp,
		"StateTransitionedTimestamp":         stamp,
		"AlarmConfigurationUpdatedTimestamp": stamp,
		"ActionsEnabled":                     cbor.Bool(true),
	}
}

// timestamp encodes epoch milliseconds as rpc-v2-cbor does: tag 1 over epoch seconds, a float.
func timestamp(ms int64) cbor.Value {
	return cbor.Tag{ID: 1, Value: cbor.Float64(float64(ms) / 1e3)}
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	member := "message"
	if e.shape == "InternalServiceFault" {
		member = "Message" // the one CloudWatch error whose member is capitalised
	}
	writeError(w, e.status, e.queryCode, e.shape, member, e.message)
}

// writeError answers an error: "__type" is the shape id, member carries the message, and queryCode (when
// set) goes in X-Amzn-Query-Error, as an awsQueryCompatible service sends it.
func writeError(w http.ResponseWriter, status int, queryCode, shape, member, message string) {
	if queryCode != "" {
		w.Header().Set("X-Amzn-Query-Error", queryCode)
	}
	writeCBOR(w, status, cbor.Map{
		"__type": cbor.String("com.amazonaws.cloudwatch#" + shape),
		member:   cbor.String(message),
	})
}

func writeCBOR(w http.ResponseWriter, status int, v cbor.Value) {
	body := cbor.Encode(v)
	h := w.Header()
	h.Set("Smithy-Protocol", "rpc-v2-cbor")
	h.Set("Content-Type", "application/cbor")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	h.Set("X-Amzn-Requestid", requestID())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

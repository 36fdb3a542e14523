package cloudwatchfake

// PutDashboard, as CloudWatch answers it:
//   - DashboardName and DashboardBody are required (MissingParameter); Tags are accepted and ignored;
//     any other member is InvalidParameterValue;
//   - a name that is empty, longer than 255 characters or has a character other than A-Z, a-z, 0-9, "-"
//     and "_" is 400 DashboardInvalidInputError (query code InvalidParameterInput);
//   - a body that is not a JSON object, lacks the "widgets" array, has more than 500 widgets, a widget
//     of no known type, a metric widget without a "properties.metrics" array or a "properties.region"
//     string, or a text widget without a "properties.markdown" string, is the same error, its message
//     "The dashboard body is invalid, there are N validation errors: [...]" and its member
//     dashboardValidationMessages listing each {DataPath, Message}; the dashboard is left as it was;
//   - a body that is valid but has a widget lying outside the 24-column grid (x + width > 24) is stored,
//     and the answer's DashboardValidationMessages warn of each such widget: CloudWatch's "valid enough
//     for the dashboard to be created or modified, but some elements of the dashboard might not render";
//   - otherwise the body is stored, replacing any of that name, and the answer is empty.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/aws/smithy-go/encoding/cbor"
)

const (
	maxDashboardName = 255
	maxWidgets       = 500
	gridColumns      = 24
)

// widgetTypes are the widget types of CloudWatch's dashboard body structure.
var widgetTypes = []string{"metric", "text", "log", "alarm", "explorer", "custom"}

// validation is one DashboardValidationMessage.
type validation struct {
	DataPath string `json:"dataPath"`
	Message  string `json:"message"`
}

func invalidDashboard(message string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameterInput;Sender", "DashboardInvalidInputError", message}
}

// Dashboard returns the body last stored under name, and whether there is one.
func (s *Server) Dashboard(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.dashboards[name]
	return slices.Clone(b), ok
}

// putDashboard answers PutDashboard.
func (s *Server) putDashboard(w http.ResponseWriter, in cbor.Map) {
	var name, body *string
	for member, v := range in {
		str, ok := v.(cbor.String)
		switch member {
		case "DashboardName":
			name = (*string)(&str)
		case "DashboardBody":
			body = (*string)(&str)
		case "Tags":
			_, ok = v.(cbor.List)
		default:
			writeAPIError(w, invalidValue("PutDashboardInput has no member %q", member))
			return
		}
		if !ok {
			writeAPIError(w, invalidValue("%s has the wrong CBOR type %T", member, v))
			return
		}
	}
	switch {
	case name == nil || body == nil:
		writeAPIError(w, &apiError{http.StatusBadRequest, "MissingParameter;Sender", "MissingRequiredParameterException",
			"PutDashboard requires DashboardName and DashboardBody"})
		return
	case *name == "" || len(*name) > maxDashboardName:
		writeAPIError(w, invalidDashboard(fmt.Sprintf("The value for field DashboardName must be 1 to %d characters long.", maxDashboardName)))
		return
	case !validName(*name):
		writeAPIError(w, invalidDashboard("The value for field DashboardName contains invalid characters. It can only contain alphanumerics, dash (-) and underscore (_)."))
		return
	}
	errs, warnings := validateBody(*body)
	if len(errs) > 0 {
		list, _ := json.MarshalIndent(errs, "", "  ")
		writeInvalidBody(w, fmt.Sprintf("The dashboard body is invalid, there are %d validation errors: %s", len(errs), list), errs)
		return
	}
	s.mu.Lock()
	if s.dashboards == nil {
		s.dashboards = map[string][]byte{}
	}
	s.dashboards[*name] = []byte(*body)
	s.mu.Unlock()
	out := cbor.Map{}
	if len(warnings) > 0 {
		out["DashboardValidationMessages"] = validationList(warnings)
	}
	writeCBOR(w, http.StatusOK, out)
}

func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// writeInvalidBody answers DashboardInvalidInputError with its message and validation messages.
func writeInvalidBody(w http.ResponseWriter, message string, vs []validation) {
	w.Header().Set("X-Amzn-Query-Error", "InvalidParameterInput;Sender")
	writeCBOR(w, http.StatusBadRequest, cbor.Map{
		"__type":                      cbor.String("com.amazonaws.cloudwatch#DashboardInvalidInputError"),
		"message":                     cbor.String(message),
		"dashboardValidationMessages": validationList(vs),
	})
}

func validationList(vs []validation) cbor.List {
	l := make(cbor.List, len(vs))
	for i, v := range vs {
		l[i] = cbor.Map{"DataPath": cbor.String(v.DataPath), "Message": cbor.String(v.Message)}
	}
	return l
}

// validateBody checks a dashboard body: errors refuse it, warnings let it be stored.
func validateBody(body string) (errs, warnings []validation) {
	var top map[string]any
	if err := json.Unmarshal([]byte(body), &top); err != nil || top == nil {
		return []validation{{"", "The field DashboardBody must be a valid JSON object"}}, nil
	}
	widgets, ok := top["widgets"].([]any)
	if !ok {
		return []validation{{"", "Should have required property 'widgets' (an array)"}}, nil
	}
	if len(widgets) > maxWidgets {
		return []validation{{"/widgets", fmt.Sprintf("Should NOT have more than %d items", maxWidgets)}}, nil
	}
	for i, v := range widgets {
		path := fmt.Sprintf("/widgets/%d", i)
		wgt, ok := v.(map[string]any)
		if !ok {
			errs = append(errs, validation{path, "Should be object"})
			continue
		}
		typ, _ := wgt["type"].(string)
		if !slices.Contains(widgetTypes, typ) {
			errs = append(errs, validation{path + "/type", fmt.Sprintf("Should be equal to one of the allowed values %q", widgetTypes)})
			continue
		}
		props, _ := wgt["properties"].(map[string]any)
		switch typ {
		case "metric":
			if _, ok := props["metrics"].([]any); !ok {
				errs = append(errs, validation{path + "/properties", "Should have required property 'metrics' (an array)"})
			}
			if _, ok := props["region"].(string); !ok {
				errs = append(errs, validation{path + "/properties", "Should have required property 'region'"})
			}
		case "text":
			if _, ok := props["markdown"].(string); !ok {
				errs = append(errs, validation{path + "/properties", "Should have required property 'markdown'"})
			}
		}
		x, _ := wgt["x"].(float64)
		width, ok := wgt["width"].(float64)
		if !ok {
			width = 6 // CloudWatch's default width
		}
		if x+width > gridColumns {
			warnings = append(warnings, validation{path, fmt.Sprintf("The widget extends beyond the %d-column grid (x %g, width %g) and might not render as placed", gridColumns, x, width)})
		}
	}
	return errs, warnings
}

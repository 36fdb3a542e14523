package gitlabfake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds a request body, as GitLab's own front proxy does.
const maxBody = 10 << 20

// params merges a request's query string with its body (JSON or form), the way Grape does: body values
// win. Values are kept as strings; JSON numbers and booleans are rendered.
func params(r *http.Request) (url.Values, error) {
	v := r.URL.Query()
	if r.Body == nil || r.Method == http.MethodGet {
		return v, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) == 0 {
		return v, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("body is not valid JSON: %w", err)
		}
		for k, raw := range m {
			switch x := raw.(type) {
			case nil:
			case string:
				v.Set(k, x)
			default:
				b, _ := json.Marshal(x)
				v.Set(k, string(b))
			}
		}
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("body is not a valid form: %w", err)
		}
		for k, vals := range form {
			v[k] = vals
		}
	}
	return v, nil
}

// requestParams reads the request's parameters (params) and checks that the required ones are present,
// answering as Grape does when they are not: 400 {"error": "..."} with the reason, or with the missing
// names ("a is missing, b is missing"). It returns false once it has answered.
func requestParams(w http.ResponseWriter, r *http.Request, required ...string) (url.Values, bool) {
	v, err := params(r)
	if err != nil {
		badParam(w, err.Error())
		return nil, false
	}
	if msg := missing(v, required...); msg != "" {
		badParam(w, msg)
		return nil, false
	}
	return v, true
}

// missing names the absent required parameters as Grape does ("a is missing, b is missing"), or "".
func missing(v url.Values, names ...string) string {
	var out []string
	for _, n := range names {
		if !v.Has(n) {
			out = append(out, n+" is missing")
		}
	}
	return strings.Join(out, ", ")
}

// badParam writes Grape's answer to a parameter it rejects: 400 {"error": msg}.
func badParam(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
}

// optionalBool reads the boolean parameter name: false when it is absent or empty, and 400 {"error":
// "<name> is invalid"} (returning false for ok) when it is not a boolean.
func optionalBool(w http.ResponseWriter, v url.Values, name string) (value, ok bool) {
	raw := v.Get(name)
	if raw == "" {
		return false, true
	}
	value, err := strconv.ParseBool(raw)
	if err != nil {
		badParam(w, name+" is invalid")
		return false, false
	}
	return value, true
}

// page is one offset page of a list endpoint.
type page struct {
	number, perPage int
}

// pageOf reads page and per_page as GitLab does: page defaults to 1, per_page to 20, at most 100; values
// that are not positive integers fall back to the defaults.
func pageOf(r *http.Request) page {
	p := page{number: 1, perPage: 20}
	q := r.URL.Query()
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		p.number = n
	}
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		p.perPage = min(n, 100)
	}
	return p
}

// paginate slices items to the requested page and sets GitLab's offset pagination headers, Link included.
func paginate[T any](w http.ResponseWriter, r *http.Request, base string, items []T) []T {
	p := pageOf(r)
	total := len(items)
	totalPages := max(1, (total+p.perPage-1)/p.perPage)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(p.number))
	h.Set("X-Per-Page", strconv.Itoa(p.perPage))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(totalPages))
	next, prev := "", ""
	if p.number < totalPages {
		next = strconv.Itoa(p.number + 1)
	}
	if p.number > 1 && p.number <= totalPages+1 {
		prev = strconv.Itoa(p.number - 1)
	}
	h.Set("X-Next-Page", next)
	h.Set("X-Prev-Page", prev)

	link := func(n int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(p.perPage))
		return fmt.Sprintf("<%s%s?%s>; rel=%q", base, r.URL.EscapedPath(), q.Encode(), rel)
	}
	var links []string
	if prev != "" {
		links = append(links, link(p.number-1, "prev"))
	}
	if next != "" {
		links = append(links, link(p.number+1, "next"))
	}
	links = append(links, link(1, "first"), link(totalPages, "last"))
	h.Set("Link", strings.Join(links, ", "))

	start := (p.number - 1) * p.perPage
	if start >= total {
		return []T{}
	}
	return items[start:min(start+p.perPage, total)]
}

// sortListed orders a list the way GitLab's list endpoints do: by order_by (created_at or updated_at,
// read through times) in sort's direction (asc or desc), ties broken by id.
func sortListed[T any](list []T, orderBy, sortDir string, times func(T) (created, updated time.Time, id int)) {
	slices.SortStableFunc(list, func(a, b T) int {
		ca, ua, ia := times(a)
		cb, ub, ib := times(b)
		ka, kb := ca, cb
		if orderBy == "updated_at" {
			ka, kb = ua, ub
		}
		c := ka.Compare(kb)
		if c == 0 {
			c = ia - ib
		}
		if sortDir == "desc" {
			c = -c
		}
		return c
	})
}

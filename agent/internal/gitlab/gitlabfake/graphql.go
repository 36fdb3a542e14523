package gitlabfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

// GitLab's GraphQL API (POST /api/graphql), the part the agent reads: a query of currentUser and of
// project(fullPath:) with its terraformState(name:) (lockedAt, lockedByUser). The query is parsed (one
// operation, its variables, fields with aliases and arguments given as variables or strings) and
// answered as GitLab does: {"data": {...}} with the fields asked for, null for a project or state that
// does not exist; a query the fake does not know, or a malformed one, gets {"errors": [{"message"}]}
// (status 200, as GitLab answers a query it refuses).

// gqlField is one field of a selection set.
type gqlField struct {
	alias, name string
	args        map[string]gqlValue
	sel         []gqlField
}

// gqlValue is an argument: a variable's name, or a string.
type gqlValue struct {
	variable string
	str      string
}

// gqlParser reads one query document.
type gqlParser struct {
	toks []string
	pos  int
}

func (s *Server) graphQL(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		gqlError(w, "Unexpected end of document")
		return
	}
	sel, vars, err := parseGraphQL(req.Query)
	if err != nil {
		gqlError(w, err.Error())
		return
	}
	for _, v := range vars {
		if _, ok := req.Variables[v]; !ok {
			gqlError(w, fmt.Sprintf("Variable $%s was not provided", v))
			return
		}
	}
	data, err := s.resolveQuery(sel, req.Variables)
	if err != nil {
		gqlError(w, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func gqlError(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusOK, map[string]any{"errors": []map[string]string{{"message": msg}}})
}

// resolveQuery answers the query's root fields.
func (s *Server) resolveQuery(sel []gqlField, vars map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for _, f := range sel {
		switch f.name {
		case "currentUser":
			s.mu.Lock()
			u := s.userLocked(BotUsername)
			s.mu.Unlock()
			v, err := userFields(f, u)
			if err != nil {
				return nil, err
			}
			out[f.key()] = v
		case "project":
			path, err := f.stringArg("fullPath", vars)
			if err != nil {
				return nil, err
			}
			v, err := s.projectFields(f, path, vars)
			if err != nil {
				return nil, err
			}
			out[f.key()] = v
		default:
			return nil, fmt.Errorf("Field '%s' doesn't exist on type 'Query'", f.name)
		}
	}
	return out, nil
}

// projectFields answers project(fullPath:); nil (null) when there is no such project.
func (s *Server) projectFields(f gqlField, path string, vars map[string]any) (any, error) {
	s.mu.Lock()
	p := s.findProjectLocked(path)
	s.mu.Unlock()
	if _, err := strconv.Atoi(path); err == nil {
		p = nil // fullPath is a path, never an id
	}
	out := map[string]any{}
	for _, g := range f.sel {
		switch g.name {
		case "id":
			if p != nil {
				out[g.key()] = "gid://gitlab/Project/" + strconv.Itoa(p.ID)
			}
		case "fullPath":
			if p != nil {
				out[g.key()] = p.Path
			}
		case "terraformState":
			name, err := g.stringArg("name", vars)
			if err != nil {
				return nil, err
			}
			if p == nil {
				continue
			}
			v, err := s.terraformStateFields(g, p.Path, name)
			if err != nil {
				return nil, err
			}
			out[g.key()] = v
		default:
			return nil, fmt.Errorf("Field '%s' doesn't exist on type 'Project'", g.name)
		}
	}
	if p == nil {
		return nil, nil
	}
	return out, nil
}

// terraformStateFields answers terraformState(name:) from the states of state.go; nil when none.
func (s *Server) terraformStateFields(f gqlField, project, name string) (any, error) {
	st := s.stateStore()
	st.mu.Lock()
	ts := s.findState(project, name)
	var lock *StateLock
	if ts != nil && ts.lock != nil {
		l := *ts.lock
		lock = &l
	}
	st.mu.Unlock()
	out := map[string]any{}
	for _, g := range f.sel {
		switch g.name {
		case "name":
			out[g.key()] = name
		case "lockedAt":
			out[g.key()] = nil
			if lock != nil {
				out[g.key()] = lock.LockedAt.UTC().Format("2006-01-02T15:04:05Z")
			}
		case "lockedByUser":
			out[g.key()] = nil
			if lock != nil {
				s.mu.Lock()
				u := s.userLocked(lock.Who)
				s.mu.Unlock()
				v, err := userFields(g, u)
				if err != nil {
					return nil, err
				}
				out[g.key()] = v
			}
		default:
			return nil, fmt.Errorf("Field '%s' doesn't exist on type 'TerraformState'", g.name)
		}
	}
	if ts == nil {
		return nil, nil
	}
	return out, nil
}

// userFields answers the fields of a UserCore.
func userFields(f gqlField, u *user) (map[string]any, error) {
	out := map[string]any{}
	for _, g := range f.sel {
		switch g.name {
		case "id":
			out[g.key()] = "gid://gitlab/User/" + strconv.Itoa(u.ID)
		case "username":
			out[g.key()] = u.Username
		case "name":
			out[g.key()] = u.Name
		default:
			return nil, fmt.Errorf("Field '%s' doesn't exist on type 'UserCore'", g.name)
		}
	}
	return out, nil
}

func (f gqlField) key() string {
	if f.alias != "" {
		return f.alias
	}
	return f.name
}

// stringArg is the string value of the field's argument name, required.
func (f gqlField) stringArg(name string, vars map[string]any) (string, error) {
	v, ok := f.args[name]
	if !ok {
		return "", fmt.Errorf("Field '%s' is missing required arguments: %s", f.name, name)
	}
	if v.variable == "" {
		return v.str, nil
	}
	s, ok := vars[v.variable].(string)
	if !ok {
		return "", fmt.Errorf("Variable $%s of type String! was provided invalid value", v.variable)
	}
	return s, nil
}

// parseGraphQL parses a document of one query: its selection set and the variables it declares.
func parseGraphQL(query string) ([]gqlField, []string, error) {
	p := &gqlParser{toks: gqlTokens(query)}
	var vars []string
	if p.peek() == "query" {
		p.pos++
		if t := p.peek(); t != "(" && t != "{" {
			p.pos++ // the operation's name
		}
		if p.peek() == "(" {
			p.pos++
			for p.peek() != ")" {
				if p.next() != "$" || !isName(p.peek()) {
					return nil, nil, fmt.Errorf("Parse error on %q: expected a variable", p.peek())
				}
				vars = append(vars, p.next())
				if p.next() != ":" || !isName(p.next()) {
					return nil, nil, fmt.Errorf("Parse error: a variable needs a type")
				}
				if p.peek() == "!" {
					p.pos++
				}
			}
			p.pos++
		}
	}
	sel, err := p.selection()
	if err != nil {
		return nil, nil, err
	}
	if p.pos != len(p.toks) {
		return nil, nil, fmt.Errorf("Parse error on %q: one query operation only", p.peek())
	}
	return sel, vars, nil
}

// selection parses "{ field ... }".
func (p *gqlParser) selection() ([]gqlField, error) {
	if p.next() != "{" {
		return nil, fmt.Errorf("Parse error: expected '{'")
	}
	var out []gqlField
	for p.peek() != "}" {
		if !isName(p.peek()) {
			return nil, fmt.Errorf("Parse error on %q: expected a field", p.peek())
		}
		f := gqlField{name: p.next()}
		if p.peek() == ":" {
			p.pos++
			if !isName(p.peek()) {
				return nil, fmt.Errorf("Parse error on %q: expected a field", p.peek())
			}
			f.alias, f.name = f.name, p.next()
		}
		if p.peek() == "(" {
			args, err := p.arguments()
			if err != nil {
				return nil, err
			}
			f.args = args
		}
		if p.peek() == "{" {
			sel, err := p.selection()
			if err != nil {
				return nil, err
			}
			f.sel = sel
		}
		out = append(out, f)
	}
	p.pos++
	return out, nil
}

// arguments parses "(name: $var, name: "string")".
func (p *gqlParser) arguments() (map[string]gqlValue, error) {
	p.pos++
	args := map[string]gqlValue{}
	for p.peek() != ")" {
		name := p.next()
		if !isName(name) || p.next() != ":" {
			return nil, fmt.Errorf("Parse error on %q: expected an argument", name)
		}
		switch v := p.next(); {
		case v == "$" && isName(p.peek()):
			args[name] = gqlValue{variable: p.next()}
		case strings.HasPrefix(v, `"`):
			s, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("Parse error on %s: bad string", v)
			}
			args[name] = gqlValue{str: s}
		default:
			return nil, fmt.Errorf("Parse error on %q: expected a value", v)
		}
	}
	p.pos++
	return args, nil
}

func (p *gqlParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *gqlParser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func isName(t string) bool {
	return t != "" && (unicode.IsLetter(rune(t[0])) || t[0] == '_')
}

// gqlTokens splits a document into names, punctuators and strings; commas and comments are ignored,
// as GraphQL ignores them.
func gqlTokens(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(s))
			toks = append(toks, s[i:j])
			i = j
		case c == '_' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)):
			j := i
			for j < len(s) && (s[j] == '_' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			toks = append(toks, string(c))
			i++
		}
	}
	return toks
}

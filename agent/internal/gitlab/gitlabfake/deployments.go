package gitlabfake

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Deployment is a deployment as a test reads it back.
type Deployment struct {
	ID          int
	IID         int // per project, from 1
	Environment string
	Ref         string
	SHA         string
	Tag         bool
	Status      string   // created, running, success, failed, canceled
	History     []string // every status the deployment went through, oldest first
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Environment is an environment as a test reads it back.
type Environment struct {
	ID          int
	Name        string
	Slug        string
	ExternalURL string
	State       string // available
	Tier        string // production, staging, testing, development or other, guessed from the name
	// ExternalURLs lists the external_url of every accepted PUT that carried one, oldest first. An edit
	// to the URL the environment already has counts too (GitLab accepts it and changes nothing), so a
	// test sees a client that sets the same URL again.
	ExternalURLs []string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// projectDeploys is one project's deployments and environments, in creation order.
type projectDeploys struct {
	deployments []*Deployment
	envs        []*Environment
	nextIID     int
}

// Deployments returns the deployments of project, oldest first.
func (s *Server) Deployments(project string) []Deployment {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	d := s.deploys[p.ID]
	if d == nil {
		return nil
	}
	out := make([]Deployment, 0, len(d.deployments))
	for _, dep := range d.deployments {
		c := *dep
		c.History = slices.Clone(dep.History)
		out = append(out, c)
	}
	return out
}

// Environment returns the environment of project named name, and whether there is one.
func (s *Server) Environment(project, name string) (Environment, bool) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	env := s.deploysOf(p).env(name)
	if env == nil {
		return Environment{}, false
	}
	c := *env
	c.ExternalURLs = slices.Clone(env.ExternalURLs)
	return c, true
}

// deploysOf returns the deployment state of p, creating it. Callers hold s.mu.
func (s *Server) deploysOf(p *project) *projectDeploys {
	if s.deploys == nil {
		s.deploys = map[int]*projectDeploys{}
	}
	d := s.deploys[p.ID]
	if d == nil {
		d = &projectDeploys{}
		s.deploys[p.ID] = d
	}
	return d
}

func (d *projectDeploys) env(name string) *Environment {
	for _, e := range d.envs {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// environmentName is GitLab's rule for environment names (Gitlab::Regex.environment_name_regex).
var environmentName = regexp.MustCompile(`^[a-zA-Z0-9_/${}. -]+$`)

// envNameMessage is GitLab's validation message for a name that breaks that rule.
const envNameMessage = "can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', and spaces, " +
	"but it cannot start or end with '/'"

// createDeployment serves POST /projects/:id/deployments the way GitLab's API does: Grape checks the
// required parameters (400 {"error": "... is missing"} or "... does not have a valid value"), the named
// environment is found or created (400 {"message": {"name": [...]}} for a bad name), then the deployment
// is validated (sha and ref must resolve to a commit, 400 {"message": {"sha": [...]}}) and moved from
// created to the requested status.
func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r, "environment", "sha", "ref", "tag", "status")
	if !ok {
		return
	}
	tag, err := strconv.ParseBool(v.Get("tag"))
	if err != nil {
		badParam(w, "tag is invalid")
		return
	}
	status := v.Get("status")
	if !finishedOrRunning(status) {
		badParam(w, "status does not have a valid value")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	d := s.deploysOf(p)
	name := v.Get("environment")
	env := d.env(name)
	if env == nil {
		if msgs := validEnvironmentName(name); msgs != nil {
			invalidField(w, "name", msgs)
			return
		}
		now := s.stamp()
		env = &Environment{ID: s.id(), Name: name, Slug: slug(name), State: "available", Tier: guessTier(name),
			CreatedAt: now, UpdatedAt: now}
		d.envs = append(d.envs, env)
	}

	sha, ref := v.Get("sha"), v.Get("ref")
	invalid := map[string][]string{}
	if !p.hasCommit(sha) {
		invalid["sha"] = []string{"The commit does not exist"}
	}
	if _, isBranch := p.branches[ref]; !isBranch && !p.hasCommit(ref) {
		invalid["ref"] = []string{"The branch or tag does not exist"}
	}
	if len(invalid) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": invalid})
		return
	}

	now := s.stamp()
	d.nextIID++
	dep := &Deployment{ID: s.id(), IID: d.nextIID, Environment: env.Name, Ref: ref, SHA: sha, Tag: tag,
		Status: "created", CreatedAt: now, UpdatedAt: now}
	if !moveDeployment(w, dep, status) {
		return
	}
	d.deployments = append(d.deployments, dep)
	writeJSON(w, http.StatusCreated, s.deploymentJSON(dep, env))
}

// updateDeployment serves PUT /projects/:id/deployments/:deployment_id: GitLab's deployment state machine
// (run from created or blocked; succeed, drop and cancel from any other state), where a refused move is a
// 400 {"message": {"status": ["cannot transition via \"<event>\""]}}. An unknown deployment is a 404.
func (s *Server) updateDeployment(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r)
	if !ok {
		return
	}
	status := v.Get("status")
	switch {
	case status == "":
		badParam(w, "status is missing")
		return
	case !finishedOrRunning(status):
		badParam(w, "status does not have a valid value")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	d := s.deploysOf(p)
	dep := byPathIDOr404(w, r, "deployment", d.deployments, func(dep *Deployment) int { return dep.ID })
	if dep == nil {
		return
	}
	if !moveDeployment(w, dep, status) {
		return
	}
	dep.UpdatedAt = s.stamp()
	writeJSON(w, http.StatusOK, s.deploymentJSON(dep, d.env(dep.Environment)))
}

// listDeployments serves GET /projects/:id/deployments with its filters environment (exact name) and
// status, ordered by order_by (id, the default, or iid) and sort (asc, the default, or desc).
func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status, orderBy, sort := q.Get("status"), valueOr(q.Get("order_by"), "id"), valueOr(q.Get("sort"), "asc")
	switch {
	case status != "" && !finishedOrRunning(status) && status != "created" && status != "blocked":
		badParam(w, "status does not have a valid value")
		return
	case orderBy != "id" && orderBy != "iid":
		badParam(w, "order_by does not have a valid value")
		return
	case sort != "asc" && sort != "desc":
		badParam(w, "sort does not have a valid value")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	d := s.deploysOf(p)
	var match []*Deployment
	for _, dep := range d.deployments { // in creation order: ids and iids ascending
		if (q.Has("environment") && dep.Environment != q.Get("environment")) || (status != "" && dep.Status != status) {
			continue
		}
		match = append(match, dep)
	}
	if sort == "desc" {
		slices.Reverse(match)
	}
	out := make([]map[string]any, 0, len(match))
	for _, dep := range paginate(w, r, s.srv.URL, match) {
		out = append(out, s.deploymentJSON(dep, d.env(dep.Environment)))
	}
	writeJSON(w, http.StatusOK, out)
}

// listEnvironments serves GET /projects/:id/environments with its filters: name (exact), search (part of
// the name, at least 3 characters; not with name) and states (available, stopping, stopped).
func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, search, states := q.Get("name"), q.Get("search"), q.Get("states")
	switch {
	case q.Has("name") && q.Has("search"):
		badParam(w, "name, search are mutually exclusive")
		return
	case q.Has("search") && len(search) < 3:
		writeMessage(w, http.StatusBadRequest, "400 Bad request - Search query must be at least 3 characters")
		return
	case states != "" && states != "available" && states != "stopping" && states != "stopped":
		badParam(w, "states does not have a valid value")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	var match []*Environment
	for _, e := range s.deploysOf(p).envs {
		if (q.Has("name") && e.Name != name) || (search != "" && !strings.Contains(e.Name, search)) ||
			(states != "" && e.State != states) {
			continue
		}
		match = append(match, e)
	}
	out := make([]map[string]any, 0, len(match))
	for _, e := range paginate(w, r, s.srv.URL, match) {
		out = append(out, s.environmentJSON(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// updateEnvironment serves PUT /projects/:id/environments/:environment_id for external_url (an http(s)
// URL of at most 255 characters, or "" to clear it) and tier. Unchanged values leave updated_at as is.
func (s *Server) updateEnvironment(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r)
	if !ok {
		return
	}
	tier := v.Get("tier")
	if v.Has("tier") && !slices.Contains([]string{"production", "staging", "testing", "development", "other"}, tier) {
		badParam(w, "tier does not have a valid value")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	env := byPathIDOr404(w, r, "environment", s.deploysOf(p).envs, func(e *Environment) int { return e.ID })
	if env == nil {
		return
	}
	changed := false
	if v.Has("external_url") {
		u := v.Get("external_url")
		if msgs := validExternalURL(u); msgs != nil {
			invalidField(w, "external_url", msgs)
			return
		}
		changed = u != env.ExternalURL
		env.ExternalURL = u
		env.ExternalURLs = append(env.ExternalURLs, u)
	}
	if v.Has("tier") && tier != env.Tier {
		env.Tier = tier
		changed = true
	}
	if changed {
		env.UpdatedAt = s.stamp()
	}
	writeJSON(w, http.StatusOK, s.environmentJSON(env))
}

// byPathIDOr404 returns the item whose id is the path value key, answering 404 "404 Not found" (and
// returning nil) when none has it or the value is not a number.
func byPathIDOr404[T any](w http.ResponseWriter, r *http.Request, key string, items []*T, id func(*T) int) *T {
	want, _ := strconv.Atoi(r.PathValue(key))
	i := slices.IndexFunc(items, func(item *T) bool { return id(item) == want })
	if i < 0 {
		writeMessage(w, http.StatusNotFound, "404 Not found")
		return nil
	}
	return items[i]
}

// invalidField writes GitLab's answer to a model validation that failed on one field: 400 {"message":
// {field: msgs}}.
func invalidField(w http.ResponseWriter, field string, msgs []string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{field: msgs}})
}

// moveDeployment fires the state machine's event that takes dep to status and records the status in its
// history, or answers 400 {"message": {"status": ["cannot transition via \"<event>\""]}} and returns false
// when the event cannot fire from dep's state.
func moveDeployment(w http.ResponseWriter, dep *Deployment, status string) bool {
	if event := deploymentEvent(dep.Status, status); event != "" {
		invalidField(w, "status", []string{transitionMessage(event)})
		return false
	}
	dep.Status = status
	dep.History = append(dep.History, status)
	return true
}

// finishedOrRunning reports whether status is one the API accepts: running, success, failed or canceled.
func finishedOrRunning(status string) bool {
	return slices.Contains([]string{"running", "success", "failed", "canceled"}, status)
}

// deploymentEvent applies GitLab's deployment state machine. It returns the event that cannot fire from
// the current state to reach the requested one, or "" when the move is allowed.
//
//	running:  run      created, blocked → running
//	success:  succeed  any but success → success
//	failed:   drop     any but failed → failed
//	canceled: cancel   any but canceled → canceled
func deploymentEvent(from, to string) string {
	switch to {
	case "running":
		if from != "created" && from != "blocked" {
			return "run"
		}
	case "success":
		if from == to {
			return "succeed"
		}
	case "failed":
		if from == to {
			return "drop"
		}
	case "canceled":
		if from == to {
			return "cancel"
		}
	}
	return ""
}

// transitionMessage is the validation message state_machines gives a refused event.
func transitionMessage(event string) string { return `cannot transition via "` + event + `"` }

// validEnvironmentName returns GitLab's validation messages for an environment name, or nil.
func validEnvironmentName(name string) []string {
	var msgs []string
	if strings.TrimSpace(name) == "" {
		msgs = append(msgs, "can't be blank")
	}
	if len(name) > 255 {
		msgs = append(msgs, "is too long (maximum is 255 characters)")
	}
	if name != "" && (!environmentName.MatchString(name) || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/")) {
		msgs = append(msgs, envNameMessage)
	}
	return msgs
}

// validExternalURL returns GitLab's validation messages for an environment's external URL, or nil.
func validExternalURL(raw string) []string {
	if raw == "" {
		return nil
	}
	if len(raw) > 255 {
		return []string{"is too long (maximum is 255 characters)"}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return []string{"is blocked: URI is invalid"}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return []string{"is blocked: Only allowed schemes are http, https"}
	}
	return nil
}

// slug makes an environment's slug as GitLab does for names that are already slug-like: lower case,
// runs of other characters turned into one '-', at most 24 characters, starting with a letter.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := b.String()
	if out == "" || out[0] < 'a' || out[0] > 'z' {
		out = "env-" + out
	}
	return strings.TrimSuffix(out[:min(len(out), 24)], "-")
}

// tierPatterns is GitLab's guess of an environment's tier from its name, tried in order.
var tierPatterns = []struct {
	tier string
	re   *regexp.Regexp
}{
	{"development", regexp.MustCompile(`(?i)(dev|review|trunk)`)},
	{"testing", regexp.MustCompile(`(?i)(test|tst|int|ac(ce|)pt|qa|qc|control|quality)`)},
	{"staging", regexp.MustCompile(`(?i)(st(a|)g|mod(e|)l|pre|demo|non)`)},
	{"production", regexp.MustCompile(`(?i)(pr(o|)d|live)`)},
}

func guessTier(name string) string {
	for _, t := range tierPatterns {
		if t.re.MatchString(name) {
			return t.tier
		}
	}
	return "other"
}

// environmentJSON is an environment as the REST API shows it. Callers hold s.mu.
func (s *Server) environmentJSON(e *Environment) map[string]any {
	return map[string]any{
		"id":           e.ID,
		"name":         e.Name,
		"slug":         e.Slug,
		"description":  nil,
		"external_url": nullable(e.ExternalURL),
		"state":        e.State,
		"tier":         e.Tier,
		"created_at":   timeJSON(e.CreatedAt),
		"updated_at":   timeJSON(e.UpdatedAt),
		"auto_stop_at": nil,
	}
}

// deploymentJSON is a deployment as the REST API shows one created through it: no deployable (no CI
// job), the token's user, and the environment in brief. Callers hold s.mu.
func (s *Server) deploymentJSON(dep *Deployment, env *Environment) map[string]any {
	return map[string]any{
		"id":         dep.ID,
		"iid":        dep.IID,
		"ref":        dep.Ref,
		"sha":        dep.SHA,
		"status":     dep.Status,
		"created_at": timeJSON(dep.CreatedAt),
		"updated_at": timeJSON(dep.UpdatedAt),
		"user":       s.userJSON(s.userLocked(BotUsername)),
		"environment": map[string]any{
			"id":           env.ID,
			"name":         env.Name,
			"slug":         env.Slug,
			"external_url": nullable(env.ExternalURL),
			"created_at":   timeJSON(env.CreatedAt),
			"updated_at":   timeJSON(env.UpdatedAt),
		},
		"deployable":             nil,
		"pending_approval_count": 0,
		"approvals":              []any{},
	}
}

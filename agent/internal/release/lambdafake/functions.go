package lambdafake

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// function is one Lambda function: $LATEST, its published versions and its aliases.
type function struct {
	name       string
	codeSha256 string    // $LATEST's code
	codeSize   int64     // $LATEST's code size
	revision   string    // $LATEST's RevisionId
	modified   time.Time // $LATEST's LastModified
	updatedAt  time.Time // LastUpdateStatus is InProgress before this, Successful after
	versions   []*version
	aliases    map[string]*alias
	invoke     InvokeResponse
	calls      []Invocation
	served     []string
}

// version is one published version, numbered from 1.
type version struct {
	number     string
	codeSha256 string
	codeSize   int64
	revision   string
	modified   time.Time
	activeAt   time.Time // State is Pending before this, Active after
}

// Version is a published version as tests read it back.
type Version struct {
	Number     string
	CodeSha256 string // base64 of the zip's sha256
	State      string // Pending or Active
}

// CodeSha256 returns Lambda's CodeSha256 of a zip: the base64 of its sha256.
func CodeSha256(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// AddFunction creates function name with zip as its $LATEST code, updated and with no versions.
// Adding a function that exists replaces it.
func (s *Server) AddFunction(name string, zip []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.functions[name] = &function{
		name: name, codeSha256: CodeSha256(zip), codeSize: int64(len(zip)), revision: newID(),
		modified: now, updatedAt: now, aliases: map[string]*alias{},
		invoke: InvokeResponse{StatusCode: http.StatusOK, Payload: []byte("null")},
	}
}

// AddVersion sets function name's $LATEST code to zip and publishes it as an active version at once,
// returning its number. The function must exist.
func (s *Server) AddVersion(name string, zip []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.mustFunction(name)
	now := s.now()
	f.codeSha256, f.codeSize, f.revision, f.modified, f.updatedAt = CodeSha256(zip), int64(len(zip)), newID(), now, now
	return f.publish(now).number
}

// Versions returns function name's published versions, oldest first.
func (s *Server) Versions(name string) []Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.mustFunction(name)
	now := s.now()
	var out []Version
	for _, v := range f.versions {
		out = append(out, Version{Number: v.number, CodeSha256: v.codeSha256, State: v.state(now)})
	}
	return out
}

// LatestCodeSha256 returns the CodeSha256 of function name's $LATEST.
func (s *Server) LatestCodeSha256(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustFunction(name).codeSha256
}

// Served returns the states the fake reported for function name, in order, without repeats in a row:
// "$LATEST InProgress" and "$LATEST Successful" (LastUpdateStatus), "<version> Pending" and
// "<version> Active" (State). A waiter that really waited leaves an InProgress or Pending before the
// state that ended it.
func (s *Server) Served(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mustFunction(name).served...)
}

func (s *Server) mustFunction(name string) *function {
	f, ok := s.functions[name]
	if !ok {
		panic(fmt.Sprintf("lambdafake: no function %q: call AddFunction first", name))
	}
	return f
}

// function returns the function named in the request's path, or ResourceNotFoundException.
func (s *Server) function(r *http.Request) (*function, error) {
	name := r.PathValue("name")
	f, ok := s.functions[name]
	if !ok {
		return nil, notFound(fmt.Sprintf("Function not found: %s", s.functionARN(name)))
	}
	return f, nil
}

func (s *Server) functionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.opts.Region, s.opts.Account, name)
}

func (f *function) updateStatus(now time.Time) string {
	if now.Before(f.updatedAt) {
		return "InProgress"
	}
	return "Successful"
}

func (v *version) state(now time.Time) string {
	if now.Before(v.activeAt) {
		return "Pending"
	}
	return "Active"
}

func (f *function) serve(state string) {
	if n := len(f.served); n == 0 || f.served[n-1] != state {
		f.served = append(f.served, state)
	}
}

// publish adds a version of $LATEST's code, active from now.
func (f *function) publish(activeAt time.Time) *version {
	v := &version{
		number: strconv.Itoa(len(f.versions) + 1), codeSha256: f.codeSha256, codeSize: f.codeSize,
		revision: newID(), modified: f.modified, activeAt: activeAt,
	}
	f.versions = append(f.versions, v)
	f.revision = newID()
	return v
}

// findVersion returns the published version number, or nil.
func (f *function) findVersion(number string) *version {
	for _, v := range f.versions {
		if v.number == number {
			return v
		}
	}
	return nil
}

// configuration is the FunctionConfiguration of qualifier ("" or $LATEST, a version, an alias), and
// records the state it reports.
func (s *Server) configuration(f *function, qualifier string) (map[string]any, error) {
	now := s.now()
	c := map[string]any{
		"FunctionName": f.name, "Runtime": "provided.al2023", "Handler": "bootstrap",
		"Role": fmt.Sprintf("arn:aws:iam::%s:role/%s", s.opts.Account, f.name), "PackageType": "Zip",
		"Architectures": []string{"arm64"}, "MemorySize": 128, "Timeout": 3,
	}
	if a, ok := f.aliases[qualifier]; ok {
		qualifier = a.version
	}
	if qualifier == "" || qualifier == "$LATEST" {
		status := f.updateStatus(now)
		f.serve("$LATEST " + status)
		c["FunctionArn"] = s.functionARN(f.name)
		c["Version"] = "$LATEST"
		c["CodeSha256"], c["CodeSize"], c["RevisionId"] = f.codeSha256, f.codeSize, f.revision
		c["LastModified"] = f.modified.UTC().Format("2006-01-02T15:04:05.000-0700")
		c["State"], c["LastUpdateStatus"] = "Active", status
		return c, nil
	}
	v := f.findVersion(qualifier)
	if v == nil {
		return nil, notFound(fmt.Sprintf("Function not found: %s:%s", s.functionARN(f.name), qualifier))
	}
	state := v.state(now)
	f.serve(v.number + " " + state)
	c["FunctionArn"] = s.functionARN(f.name) + ":" + v.number
	c["Version"] = v.number
	c["CodeSha256"], c["CodeSize"], c["RevisionId"] = v.codeSha256, v.codeSize, v.revision
	c["LastModified"] = v.modified.UTC().Format("2006-01-02T15:04:05.000-0700")
	c["State"], c["LastUpdateStatus"] = state, "Successful"
	if state == "Pending" {
		c["StateReason"], c["StateReasonCode"] = "The function is being created.", "Creating"
	}
	return c, nil
}

func (s *Server) getFunction(w http.ResponseWriter, r *http.Request) error {
	f, err := s.function(r)
	if err != nil {
		return err
	}
	c, err := s.configuration(f, r.URL.Query().Get("Qualifier"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"Configuration": c,
		"Code":          map[string]string{"RepositoryType": "S3", "Location": "https://awslambda.example/snapshots/" + f.name},
	})
	return nil
}

func (s *Server) getConfiguration(w http.ResponseWriter, r *http.Request) error {
	f, err := s.function(r)
	if err != nil {
		return err
	}
	c, err := s.configuration(f, r.URL.Query().Get("Qualifier"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// inProgress is Lambda's answer to a change while an update is in progress.
func inProgress(f *function) APIError {
	e := ErrConflict
	e.Message += ": " + f.name
	return e
}

func (s *Server) updateCode(w http.ResponseWriter, r *http.Request) error {
	f, err := s.function(r)
	if err != nil {
		return err
	}
	var in struct {
		ZipFile    []byte // base64 in JSON, as the SDK sends a blob
		S3Bucket   string
		RevisionId string
		Publish    bool
		DryRun     bool
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	now := s.now()
	switch {
	case in.S3Bucket != "" || len(in.ZipFile) == 0:
		return fmt.Errorf("lambdafake serves only ZipFile uploads")
	case len(in.ZipFile) > s.opts.MaxZipSize:
		return APIError{http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the UpdateFunctionCode operation", s.opts.MaxZipSize)}
	case f.updateStatus(now) == "InProgress":
		return inProgress(f)
	case in.RevisionId != "" && in.RevisionId != f.revision:
		return ErrPreconditionFailed
	}
	if !in.DryRun {
		f.codeSha256, f.codeSize, f.revision, f.modified = CodeSha256(in.ZipFile), int64(len(in.ZipFile)), newID(), now
		f.updatedAt = now.Add(s.opts.UpdateDelay)
	}
	qualifier := "$LATEST"
	if in.Publish && !in.DryRun {
		qualifier = f.publish(f.updatedAt.Add(s.opts.PublishDelay)).number
	}
	c, err := s.configuration(f, qualifier)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) publishVersion(w http.ResponseWriter, r *http.Request) error {
	f, err := s.function(r)
	if err != nil {
		return err
	}
	var in struct{ CodeSha256, Description, RevisionId string }
	if err := decode(r, &in); err != nil {
		return err
	}
	now := s.now()
	switch {
	case f.updateStatus(now) == "InProgress":
		return inProgress(f)
	case in.RevisionId != "" && in.RevisionId != f.revision:
		return ErrPreconditionFailed
	case in.CodeSha256 != "" && in.CodeSha256 != f.codeSha256:
		return APIError{http.StatusPreconditionFailed, "PreconditionFailedException",
			fmt.Sprintf("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", in.CodeSha256, f.codeSha256)}
	}
	// Lambda publishes no new version when $LATEST has not changed since the last one.
	v := (*version)(nil)
	if n := len(f.versions); n > 0 && f.versions[n-1].codeSha256 == f.codeSha256 {
		v = f.versions[n-1]
	} else {
		v = f.publish(now.Add(s.opts.PublishDelay))
	}
	c, err := s.configuration(f, v.number)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

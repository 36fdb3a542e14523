package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// Limits on what is read from the package: it is outside input.
const (
	maxFileBytes  = 64 << 20
	maxTotalBytes = 2 << 30
)

type stats struct {
	// unflagged counts arguments whose computed/optional/required comment was missing; they are taken as
	// optional.
	unflagged int
	examples  []string
}

// extractPackage reads an npm package tarball of the provider bindings and returns the provider schema.
func extractPackage(r io.Reader) (*schema.Provider, stats, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, stats{}, fmt.Errorf("decompress: %w", err)
	}
	tr := tar.NewReader(zr)
	dirs := map[string]*dirSource{}
	var manifest []byte
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, stats{}, fmt.Errorf("read tarball: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(h.Name)
		isManifest := name == "package/package.json"
		dir, isJS, isDecl := libDir(name)
		if !isManifest && !isJS && !isDecl {
			continue
		}
		if h.Size > maxFileBytes {
			return nil, stats{}, fmt.Errorf("%s: %d bytes, over the %d limit", name, h.Size, maxFileBytes)
		}
		if total += h.Size; total > maxTotalBytes {
			return nil, stats{}, fmt.Errorf("package larger than %d bytes", maxTotalBytes)
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxFileBytes))
		if err != nil {
			return nil, stats{}, fmt.Errorf("read %s: %w", name, err)
		}
		if isManifest {
			manifest = b
			continue
		}
		ds := dirs[dir]
		if ds == nil {
			ds = &dirSource{}
			dirs[dir] = ds
		}
		if isDecl {
			ds.decl = append(ds.decl, b)
		} else {
			ds.js = append(ds.js, b)
		}
	}
	if manifest == nil {
		return nil, stats{}, errors.New("no package/package.json")
	}
	p, err := providerFromManifest(manifest)
	if err != nil {
		return nil, stats{}, err
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	var st stats
	for _, d := range names {
		if err := addDir(p, dirs[d], &st); err != nil {
			return nil, stats{}, fmt.Errorf("%s: %w", d, err)
		}
	}
	if p.Config == nil {
		return nil, stats{}, errors.New("no provider configuration class found")
	}
	if len(p.Resources) == 0 {
		return nil, stats{}, errors.New("no resource classes found")
	}
	return p, st, nil
}

// libDir reports whether name is a generated JavaScript file or type declaration of one binding directory
// (package/lib/<dir>/index.{js,d.ts} or package/lib/<dir>/index-structs/*.{js,d.ts}) and returns the
// directory.
func libDir(name string) (dir string, isJS, isDecl bool) {
	rest, ok := strings.CutPrefix(name, "package/lib/")
	if !ok {
		return "", false, false
	}
	dir, file, ok := strings.Cut(rest, "/")
	if !ok || (file != "index.js" && file != "index.d.ts" && !strings.HasPrefix(file, "index-structs/")) {
		return "", false, false
	}
	switch {
	case strings.HasSuffix(file, ".d.ts"):
		return dir, false, true
	case strings.HasSuffix(file, ".js"):
		return dir, true, false
	}
	return "", false, false
}

func providerFromManifest(b []byte) (*schema.Provider, error) {
	var m struct {
		Cdktn struct {
			Provider struct {
				Name    string `json:"name"`
				Version string `json:"version"`
			} `json:"provider"`
		} `json:"cdktn"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("package.json: %w", err)
	}
	if m.Cdktn.Provider.Name == "" || m.Cdktn.Provider.Version == "" {
		return nil, errors.New("package.json: no cdktn.provider name and version")
	}
	return &schema.Provider{
		Source:             m.Cdktn.Provider.Name,
		Version:            m.Cdktn.Provider.Version,
		Resources:          map[string]*schema.Block{},
		DataSources:        map[string]*schema.Block{},
		EphemeralResources: map[string]*schema.Block{},
		Shared:             map[string]*schema.Block{},
	}, nil
}

type dirSource struct {
	js   [][]byte
	decl [][]byte
}

// argument is one entry of a generated attribute map: the Terraform name and how it is synthesized.
type argument struct {
	name        string
	isBlock     bool
	kind        string // simple, list, set, map, struct
	storage     string // string, stringList, ..., or the nested block's storage class
	nestedFunc  string // for blocks: the function that synthesizes the nested block
	field       string // the property name in the declared config interface
	mapped      bool   // the value is mapped over a list or map: a block may repeat
	sawIsBlock  bool
	sawKind     bool
	sawStorage  bool
	sawValueRef bool
}

type flags struct{ computed, optional, required bool }

// source is what one directory's generated code declares.
type source struct {
	funcs    map[string][]argument       // xToHclTerraform name "x" -> its arguments
	classes  map[string][]argument       // class with synthesizeHclAttributes -> its arguments
	tfType   map[string]string           // class -> Terraform type name
	base     map[string]string           // class -> base class
	classFl  map[string]map[string]flags // class -> Terraform name -> flags
	classOrd []string
	// optionalFields maps a declared interface to its fields, true when optional ("name?:").
	optionalFields map[string]map[string]bool
}

var (
	reClass     = regexp.MustCompile(`^class (\w+) extends ([\w.]+) \{`)
	reFunc      = regexp.MustCompile(`^function (\w+)ToHclTerraform\(struct\) \{`)
	reSynth     = regexp.MustCompile(`^\s+synthesizeHclAttributes\(\) \{`)
	reTfType    = regexp.MustCompile(`^\s+static tfResourceType = "(\w+)";`)
	reFlags     = regexp.MustCompile(`^\s+// (\w+) - computed: (true|false), optional: (true|false), required: (true|false)$`)
	reArgStart  = regexp.MustCompile(`^\s+"?(\w+)"?: \{$`)
	reIsBlock   = regexp.MustCompile(`^\s+isBlock: (true|false),$`)
	reKind      = regexp.MustCompile(`^\s+type: "(\w+)",$`)
	reStorage   = regexp.MustCompile(`^\s+storageClassType: "(\w+)",$`)
	reValue     = regexp.MustCompile(`^\s+value: (.*),$`)
	reField2    = regexp.MustCompile(`\b(?:struct\.|this\._)(\w+)`)
	reNestedRef = regexp.MustCompile(`(cdktn\.)?\b([a-z]\w*)ToHclTerraform\b`)
)

func parseSource(ds *dirSource) (*source, error) {
	s := &source{
		funcs:   map[string][]argument{},
		classes: map[string][]argument{},
		tfType:  map[string]string{},
		base:    map[string]string{},
		classFl: map[string]map[string]flags{},

		optionalFields: map[string]map[string]bool{},
	}
	for _, js := range ds.js {
		if err := s.parseFile(js); err != nil {
			return nil, err
		}
	}
	for _, d := range ds.decl {
		if err := s.parseDecl(d); err != nil {
			return nil, err
		}
	}
	return s, nil
}

var (
	reInterface = regexp.MustCompile(`^export interface (\w+)\b.*\{$`)
	reField     = regexp.MustCompile(`^    readonly (\w+)(\??):`)
)

// parseDecl records which fields of each declared interface are optional. It is the fallback for blocks
// that have no flag comments (the provider configuration's blocks).
func (s *source) parseDecl(d []byte) error {
	sc := bufio.NewScanner(strings.NewReader(string(d)))
	sc.Buffer(make([]byte, 0, 1<<20), maxFileBytes)
	var fields map[string]bool
	for sc.Scan() {
		line := sc.Text()
		switch {
		case reInterface.MatchString(line):
			fields = map[string]bool{}
			s.optionalFields[reInterface.FindStringSubmatch(line)[1]] = fields
		case line == "}":
			fields = nil
		case fields != nil && reField.MatchString(line):
			m := reField.FindStringSubmatch(line)
			fields[m[1]] = m[2] == "?"
		}
	}
	return sc.Err()
}

func (s *source) parseFile(js []byte) error {
	sc := bufio.NewScanner(strings.NewReader(string(js)))
	sc.Buffer(make([]byte, 0, 1<<20), maxFileBytes)
	var class string
	var into map[string][]argument // where the arguments being collected go; nil when not collecting
	var owner string
	var args []argument
	var cur *argument
	for sc.Scan() {
		line := sc.Text()
		if into != nil {
			done, err := collect(line, &cur, &args)
			if err != nil {
				return fmt.Errorf("%s: %w", owner, err)
			}
			if done {
				into[owner] = args
				into, args = nil, nil
			}
			continue
		}
		switch {
		case reClass.MatchString(line):
			m := reClass.FindStringSubmatch(line)
			class = m[1]
			s.base[class] = m[2]
			s.classOrd = append(s.classOrd, class)
		case reFunc.MatchString(line):
			into, owner, cur = s.funcs, reFunc.FindStringSubmatch(line)[1], nil
		case reSynth.MatchString(line) && class != "":
			into, owner, cur = s.classes, class, nil
		case reTfType.MatchString(line) && class != "":
			s.tfType[class] = reTfType.FindStringSubmatch(line)[1]
		case reFlags.MatchString(line) && class != "":
			m := reFlags.FindStringSubmatch(line)
			if s.classFl[class] == nil {
				s.classFl[class] = map[string]flags{}
			}
			s.classFl[class][m[1]] = flags{m[2] == "true", m[3] == "true", m[4] == "true"}
		}
	}
	if into != nil {
		return fmt.Errorf("%s: attribute map not closed", owner)
	}
	return sc.Err()
}

// collect consumes one line of a generated attribute map. It reports done at the end of the map.
func collect(line string, cur **argument, args *[]argument) (done bool, err error) {
	c := *cur
	trimmed := strings.TrimSpace(line)
	switch {
	case c == nil && reArgStart.MatchString(line):
		*cur = &argument{name: reArgStart.FindStringSubmatch(line)[1]}
	case c == nil && (trimmed == "};" || trimmed == "const attrs = {};" || strings.Contains(line, "// remove undefined attributes")):
		return true, nil
	case c == nil:
		// const attrs = {, comments
	case reValue.MatchString(line):
		v := reValue.FindStringSubmatch(line)[1]
		for _, m := range reNestedRef.FindAllStringSubmatch(v, -1) {
			if m[1] == "" { // cdktn.stringToHclTerraform and the like convert simple values
				c.nestedFunc = m[2]
			}
		}
		c.sawValueRef = true
		c.mapped = strings.Contains(v, "listMapperHcl(") || strings.Contains(v, "hashMapperHcl(")
		if m := reField2.FindStringSubmatch(v); m != nil {
			c.field = m[1]
		}
	case reIsBlock.MatchString(line):
		c.isBlock = reIsBlock.FindStringSubmatch(line)[1] == "true"
		c.sawIsBlock = true
	case reKind.MatchString(line):
		c.kind = reKind.FindStringSubmatch(line)[1]
		c.sawKind = true
	case reStorage.MatchString(line):
		c.storage = reStorage.FindStringSubmatch(line)[1]
		c.sawStorage = true
	case trimmed == "},":
		if !c.sawIsBlock || !c.sawKind || !c.sawStorage || !c.sawValueRef {
			return false, fmt.Errorf("argument %q: incomplete synthesis entry", c.name)
		}
		if c.isBlock && c.nestedFunc == "" {
			return false, fmt.Errorf("argument %q: block without a nested synthesis function", c.name)
		}
		*args = append(*args, *c)
		*cur = nil
	}
	return false, nil
}

// Command gen extracts the schema of hashicorp/aws from the provider bindings published on npm
// (@cdktn/provider-aws, generated from the provider's own schema) and writes it in the format package schema
// reads.
//
//	npm pack @cdktn/provider-aws@25.7.0 --pack-destination .cache/npm
//	go run ./stacks/schema/gen -package .cache/npm/cdktn-provider-aws-25.7.0.tgz -out stacks/schema/aws-6.66.0.json.gz
//
// The package names, per resource, each argument and nested block: the generated synthesis code carries the
// Terraform name, whether it is a block, its collection kind and element type; a comment above each getter
// states whether it is computed, optional or required.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pkg := fs.String("package", "", "the npm package tarball (npm pack @cdktn/provider-aws@VERSION)")
	out := fs.String("out", "", "the schema file to write (gzip JSON)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pkg == "" || *out == "" {
		return fmt.Errorf("-package and -out are required")
	}
	f, err := os.Open(*pkg)
	if err != nil {
		return err
	}
	defer f.Close()
	p, stats, err := extractPackage(f)
	if err != nil {
		return fmt.Errorf("extract %s: %w", *pkg, err)
	}
	var buf bytes.Buffer
	if err := schema.Write(&buf, p); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "gen: %s %s: %d resources, %d data sources, %d ephemeral resources; %d arguments without flags; %d bytes\n",
		p.Source, p.Version, len(p.Resources), len(p.DataSources), len(p.EphemeralResources), stats.unflagged, buf.Len())
	if stats.unflagged > 0 {
		fmt.Fprintf(stderr, "gen: arguments without flags include %s\n", strings.Join(stats.examples, ", "))
	}
	return nil
}

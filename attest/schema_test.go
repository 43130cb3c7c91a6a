package attest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The SPDX 2.3 JSON schema and a JSON-schema validator come from Go
// modules through the module proxy at test time, so that neither is
// copied into kiln: syft ships the schema in its module, santhosh-
// tekuri/jsonschema validates draft-07.
const (
	schemaModule    = "github.com/anchore/syft@v1.18.1"
	schemaFile      = "schema/spdx-json/spdx-schema-2.3.json"
	validatorModule = "github.com/santhosh-tekuri/jsonschema/v6@v6.0.3"
)

const validatorMain = `package main

import (
	"fmt"
	"os"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func main() {
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bad := false
	for _, p := range os.Args[2:] {
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, p, err)
			os.Exit(2)
		}
		if err := sch.Validate(doc); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", p, err)
			bad = true
		}
	}
	if bad {
		os.Exit(1)
	}
}
`

func goCmd(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

// TestSBOMValidatesAgainstSPDXSchema checks kiln's SPDX documents with
// the SPDX 2.3 JSON schema; a document that breaks it fails, naming the
// property.
func TestSBOMValidatesAgainstSPDXSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches modules through the Go module proxy")
	}
	dir := t.TempDir()
	var dl struct{ Dir, Error string }
	if err := json.Unmarshal(goCmd(t, dir, "mod", "download", "-json", schemaModule), &dl); err != nil || dl.Dir == "" {
		t.Fatalf("go mod download %s: %v %s", schemaModule, err, dl.Error)
	}
	schema := filepath.Join(dl.Dir, filepath.FromSlash(schemaFile))

	vdir := filepath.Join(dir, "validator")
	os.MkdirAll(vdir, 0o755)
	os.WriteFile(filepath.Join(vdir, "main.go"), []byte(validatorMain), 0o644)
	goCmd(t, vdir, "mod", "init", "validator")
	goCmd(t, vdir, "get", validatorModule)
	goCmd(t, vdir, "build", "-o", filepath.Join(dir, "validate"), ".")

	var docs []string
	for name, b := range map[string]*Build{"sample": sample(), "empty": {
		BuilderVersion: "devel", Target: "image.x", Platform: "linux/arm64",
		BuildFile: File{Name: "build.hcl", SHA256: strings.Repeat("a", 64)},
	}} {
		doc, err := SPDX(subject[0], b, inImage)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name+".spdx.json")
		os.WriteFile(p, doc, 0o644)
		docs = append(docs, p)
	}
	// A broken document must fail, or the check proves nothing.
	broken := filepath.Join(dir, "broken.spdx.json")
	os.WriteFile(broken, []byte(`{"spdxVersion":"SPDX-2.3","packages":[{"name":1}]}`), 0o644)

	cmd := exec.Command(filepath.Join(dir, "validate"), append([]string{schema}, docs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the SBOM does not validate against the SPDX 2.3 schema: %v\n%s", err, out)
	}
	if out, err := exec.Command(filepath.Join(dir, "validate"), schema, broken).CombinedOutput(); err == nil {
		t.Fatalf("a broken document validated:\n%s", out)
	}
}

package dockerimport

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

var update = flag.Bool("update", false, "rewrite the golden build.hcl and notes files")

// caseOptions are the options a testdata case is imported with: the
// busybox base as a named OCI layout context (as cmd/kiln's test builds
// it), and the flags file's --target.
func caseOptions(t *testing.T, dir string) Options {
	t.Helper()
	opts := Options{Filename: "Dockerfile", Contexts: map[string]string{"busybox": "oci-layout://base.oci"},
		IsFile: func(p string) bool {
			fi, err := os.Stat(filepath.Join(dir, p))
			return err == nil && fi.Mode().IsRegular()
		}}
	b, err := os.ReadFile(filepath.Join(dir, "flags"))
	if os.IsNotExist(err) {
		return opts
	}
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == "--target" && i+1 < len(f):
			opts.Target = f[i+1]
			i++
		default:
			t.Fatalf("%s/flags: %q is not a flag this test knows", dir, f[i])
		}
	}
	return opts
}

// FormatNotes is how kiln import prints notes, one a line.
func formatNotes(file string, notes []Note) string {
	var b strings.Builder
	for _, n := range notes {
		fmt.Fprintf(&b, "%s:%d: %s: %s\n", file, n.Line, n.Instruction, n.Message)
	}
	return b.String()
}

// TestGolden imports every testdata case and compares the build.hcl and
// the notes with the golden files (rewritten with -update). cmd/kiln's
// TestImportDockerfiles imports the same cases through the CLI, checks
// them against the same files, plans them and builds those that can run
// here.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/Dockerfile")
	if err != nil || len(dirs) < 10 {
		t.Fatalf("want at least ten cases, found %d (%v)", len(dirs), err)
	}
	for _, df := range dirs {
		dir := filepath.Dir(df)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(df)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Convert(src, caseOptions(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			if _, diags := hclsyntax.ParseConfig(res.HCL, "build.hcl", hcl.InitialPos); diags.HasErrors() {
				t.Fatalf("the output does not parse: %v\n%s", diags, res.HCL)
			}
			notes := formatNotes("Dockerfile", res.Notes)
			for file, got := range map[string]string{"build.hcl.golden": string(res.HCL), "notes.golden": notes} {
				path := filepath.Join(dir, file)
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./dockerimport -run TestGolden -update)", err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("%s differs (-want +got):\n%s", path, diff)
				}
			}
		})
	}
}

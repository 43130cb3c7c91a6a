package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"
)

// importCases holds the Dockerfiles kiln import is tested on, each in a
// folder with its build context, golden build.hcl and notes, and two
// files for this test: flags (extra kiln import flags) and check
// (testscript commands run on the imported build.hcl).
const importCases = "../../dockerimport/testdata"

// importScript is run for every case in $WORK/app, the case's folder. The
// busybox base of the examples is exported as an OCI layout into it
// first: the Dockerfiles say FROM busybox, and --build-context maps that
// name to the layout, as docker buildx build --build-context does.
const importScript = `[!root] skip 'sandboxes need root'
exec kiln build -f base.hcl busybox -o type=oci,dest=app/base.oci
cd app
exec kiln import --build-context busybox=oci-layout://base.oci FLAGS Dockerfile
cmp stdout ../golden/build.hcl
cmp stderr ../golden/notes
cp stdout build.hcl
exec kiln fmt --check
exec kiln plan
`

const importBase = `kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}

source "local" "busybox" {
  path = "base/rootfs"
}

image "busybox" {
  from = source.local.busybox
}
`

// TestImportDockerfiles imports each case through the CLI, checks the
// result against the goldens dockerimport's TestGolden keeps, plans it,
// and runs the case's check: a real build for the cases whose RUN lines
// work on busybox.
func TestImportDockerfiles(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(importCases, "*", "Dockerfile"))
	if err != nil || len(dirs) < 10 {
		t.Fatalf("want at least ten cases in %s, found %d (%v)", importCases, len(dirs), err)
	}
	scripts := t.TempDir()
	for _, df := range dirs {
		dir := filepath.Dir(df)
		ar := &txtar.Archive{Files: []txtar.File{{Name: "base.hcl", Data: []byte(importBase)}}}
		var flags, check string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			switch rel {
			case "flags":
				flags = strings.TrimSpace(string(b))
			case "check":
				check = string(b)
			case "build.hcl.golden":
				ar.Files = append(ar.Files, txtar.File{Name: "golden/build.hcl", Data: b})
			case "notes.golden":
				ar.Files = append(ar.Files, txtar.File{Name: "golden/notes", Data: b})
			default:
				ar.Files = append(ar.Files, txtar.File{Name: "app/" + filepath.ToSlash(rel), Data: b})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ar.Comment = []byte(strings.Replace(importScript, "FLAGS", flags, 1) + check)
		if err := os.WriteFile(filepath.Join(scripts, filepath.Base(dir)+".txtar"), txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testscript.Run(t, testscript.Params{Dir: scripts, Setup: scriptSetup, Condition: condition})
}

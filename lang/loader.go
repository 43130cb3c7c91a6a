package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Options are the inputs of a load that do not come from build.hcl.
type Options struct {
	// Vars are --var NAME=VALUE flags, the strongest source of values.
	Vars map[string]string
	// VarFiles are --var-file paths, applied in order.
	VarFiles []string
	// Environ is the environment (os.Environ form) searched for
	// KILN_VAR_NAME values. It is explicit so that tests and the fuzzer do
	// not depend on the process environment.
	Environ []string
}

// Loader loads build files. It keeps every file it parsed so the CLI can
// print diagnostics with their source lines (Files).
type Loader struct {
	opts   Options
	parser *hclparse.Parser
	// target is the platform target_platform is bound to in this load
	// (set by load on a copy of the Loader).
	target string
	// generalDecode turns off the shortcuts that read clean syntax trees
	// directly (cleanBody, literalStrings, objectStrings), so that tests
	// can compare them with hcl's general path.
	generalDecode bool
}

// NewLoader returns a Loader that binds variables from opts.
func NewLoader(opts Options) *Loader {
	return &Loader{opts: opts, parser: hclparse.NewParser()}
}

// Files returns the files parsed so far by name, for
// hcl.NewDiagnosticTextWriter.
func (l *Loader) Files() map[string]*hcl.File { return l.parser.Files() }

// Load parses and evaluates the build file at path. Diagnostics name files
// as path names them (the CLI passes "build.hcl" when run in its folder),
// while Config.Dir is always absolute. The Config is nil when the
// diagnostics hold an error.
func (l *Loader) Load(path string) (*Config, hcl.Diagnostics) {
	return l.loadNamed(path, path)
}

// LoadNamed is Load naming the file name in diagnostics: a build file
// fetched from a URL is named by the URL, not by where it was put.
func (l *Loader) LoadNamed(path, name string) (*Config, hcl.Diagnostics) {
	return l.loadNamed(path, name)
}

// loadNamed loads the file at path, naming it name in diagnostics.
func (l *Loader) loadNamed(path, name string) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read the build file",
			Detail:   fmt.Sprintf("Reading %s: %v. Run kiln in the folder holding build.hcl or name the file with --file.", path, err),
		}}
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot resolve the build file's folder",
			Detail:   fmt.Sprintf("Resolving %s: %v.", path, err),
		}}
	}
	return l.load(src, name, dir)
}

// load is Load on bytes: name is how diagnostics call the file, dir the
// absolute folder that file(), glob() and local sources are relative to.
// Large native-syntax files take kiln's faster route (loadFast), every
// other file hcl's.
func (l *Loader) load(src []byte, name, dir string) (*Config, hcl.Diagnostics) {
	host := BuildPlatform()
	cfg, diags := l.loadFor(src, name, dir, host)
	if cfg != nil && cfg.Project.Platform != "" && cfg.Project.Platform != host {
		// The project's platform is the default target: evaluate for it.
		// kiln { platform } itself must not depend on the target.
		again, ds := l.loadFor(src, name, dir, cfg.Project.Platform)
		if again != nil && again.Project.Platform != cfg.Project.Platform {
			rng := again.Project.Range
			return nil, append(ds, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Platform depends on itself", Subject: &rng,
				Detail: "kiln { platform } is the default target platform, so it cannot depend on target_platform (or a local that does); write the platform itself.",
			})
		}
		cfg, diags = again, ds
	}
	if cfg != nil {
		cfg.views = &platformViews{byP: map[string]*Config{}, reload: func(target string) (*Config, hcl.Diagnostics) {
			return l.loadFor(src, name, dir, target)
		}}
	}
	return cfg, diags
}

// loadFor is load with target_platform bound to target.
func (l *Loader) loadFor(src []byte, name, dir, target string) (*Config, hcl.Diagnostics) {
	lt := *l
	lt.target = target
	l = &lt
	if !strings.HasSuffix(name, ".json") {
		if cfg, diags, ok := l.loadFast(src, name, dir); ok {
			return cfg, diags
		}
	}
	return l.loadWhole(src, name, dir)
}

// loadWhole is load with hcl's own parser on the whole file: for JSON,
// small files, files with a syntax error (whose diagnostics the user
// should see as hcl gives them) and the reference loadFast is tested
// against.
func (l *Loader) loadWhole(src []byte, name, dir string) (*Config, hcl.Diagnostics) {
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(name, ".json") {
		f, diags = l.parser.ParseJSON(src, name)
	} else {
		f, diags = hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		if f != nil {
			l.parser.AddFile(name, f)
		}
	}
	if diags.HasErrors() || f == nil {
		// A partial body after a syntax error mostly yields follow-on
		// errors that confuse more than they help.
		return nil, diags
	}
	return l.eval(f.Body, name, dir, diags)
}

// eval evaluates a parsed build file, after the diagnostics of its parse.
func (l *Loader) eval(body hcl.Body, name, dir string, diags hcl.Diagnostics) (*Config, hcl.Diagnostics) {
	e := newEvaluator(l, name, dir)
	cfg := e.run(body)
	diags = append(diags, e.diags...)
	if diags.HasErrors() {
		return nil, diags
	}
	return cfg, diags
}

// Format returns src in kiln's canonical layout (hclwrite's, as terraform
// fmt), after checking that it parses: formatting a broken file would
// silently move the error.
func Format(src []byte, filename string) ([]byte, hcl.Diagnostics) {
	_, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), diags
}

// Package companion finds the programs that ship beside kiln's binary
// (kiln-init, kiln-buildkit): one rule for all of them, so that an
// install that works for one works for the others.
package companion

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvError is a program named by its environment variable that is not a
// program.
type EnvError struct {
	Var, Value string
	Err        error // nil when the path is there but not a regular file
}

func (e *EnvError) Error() string {
	var why any = "not a regular file"
	if e.Err != nil {
		why = e.Err
	}
	return fmt.Sprintf("%s=%s names no program (%v)", e.Var, e.Value, why)
}

// NotFoundError is a program found neither next to kiln nor on PATH.
type NotFoundError struct {
	Name string
	Dir  string // kiln's directory; "" when kiln's own path is unknown
}

// Where says where it was looked for.
func (e *NotFoundError) Where() string {
	if e.Dir == "" {
		return "on PATH"
	}
	return "next to kiln (in " + e.Dir + ") nor on PATH"
}

func (e *NotFoundError) Error() string { return e.Name + " is not " + e.Where() }

// Locate finds the program name: the file the variable env names in
// environ (the last setting wins; an empty one is as if unset), else next
// to self (kiln's executable, symlinks resolved), else on PATH through
// lookPath. The first is for tests and unusual installs; the second is how
// the programs ship (a release's directory, go install's bin). Errors are
// an *EnvError or a *NotFoundError.
func Locate(environ []string, env, name, self string, lookPath func(string) (string, error)) (string, error) {
	for i := len(environ) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(environ[i], env+"="); ok {
			if v == "" {
				break
			}
			if fi, err := os.Stat(v); err != nil || !fi.Mode().IsRegular() {
				return "", &EnvError{Var: env, Value: v, Err: err}
			}
			return v, nil
		}
	}
	var dir string
	if self != "" {
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			self = resolved
		}
		dir = filepath.Dir(self)
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := lookPath(name); err == nil {
		return p, nil
	}
	return "", &NotFoundError{Name: name, Dir: dir}
}

package companion

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	kiln := filepath.Join(dir, "kiln")
	prog := filepath.Join(dir, "prog")
	named := filepath.Join(t.TempDir(), "named")
	for _, p := range []string{kiln, prog, named} {
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// kiln reached through a symlink elsewhere: prog is next to the target.
	link := filepath.Join(t.TempDir(), "kiln")
	if err := os.Symlink(kiln, link); err != nil {
		t.Fatal(err)
	}
	noPath := func(string) (string, error) { return "", errors.New("not found") }
	onPath := func(n string) (string, error) { return "/usr/bin/" + n, nil }

	for _, c := range []struct {
		name    string
		environ []string
		self    string
		path    func(string) (string, error)
		want    string
	}{
		{"variable first", []string{"P=" + named}, kiln, onPath, named},
		{"the last setting wins", []string{"P=" + filepath.Join(dir, "none"), "P=" + named}, kiln, noPath, named},
		{"next to kiln", nil, kiln, onPath, prog},
		{"next to kiln's symlink target", nil, link, noPath, prog},
		{"an empty variable is unset", []string{"P="}, kiln, noPath, prog},
		{"then PATH", nil, filepath.Join(t.TempDir(), "kiln"), onPath, "/usr/bin/prog"},
	} {
		if p, err := Locate(c.environ, "P", "prog", c.self, c.path); err != nil || p != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, p, err, c.want)
		}
	}

	var ee *EnvError
	if _, err := Locate([]string{"P=" + dir}, "P", "prog", kiln, onPath); !errors.As(err, &ee) || ee.Err != nil || err.Error() != "P="+dir+" names no program (not a regular file)" {
		t.Errorf("a directory named: %v", err)
	}
	if _, err := Locate([]string{"P=" + filepath.Join(dir, "none")}, "P", "prog", kiln, onPath); !errors.As(err, &ee) || !errors.Is(ee.Err, os.ErrNotExist) {
		t.Errorf("a missing file named: %v", err)
	}
	var nf *NotFoundError
	elsewhere := t.TempDir()
	if _, err := Locate(nil, "P", "prog", filepath.Join(elsewhere, "kiln"), noPath); !errors.As(err, &nf) || err.Error() != "prog is not next to kiln (in "+elsewhere+") nor on PATH" {
		t.Errorf("nowhere: %v", err)
	}
	if _, err := Locate(nil, "P", "prog", "", noPath); !errors.As(err, &nf) || err.Error() != "prog is not on PATH" {
		t.Errorf("kiln's path unknown: %v", err)
	}
}

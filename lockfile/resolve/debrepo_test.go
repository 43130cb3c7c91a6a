package resolve

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/lang"
)

// debRepo checks a Release file the way apt would: against the source's
// signed-by keyring, else against every trusted keyring, and not at all
// only for trusted=yes.
func TestDebRepoKeyrings(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/apt/sources.list", "deb [signed-by=/keys/a.gpg] http://a.invalid/debian alpha main\n"+
		"deb [trusted=yes] http://b.invalid/debian beta main\n"+
		"deb http://c.invalid/debian gamma main\n")
	opts := DebOptions{AptRoot: root}
	keyrings := func(suite string) ([]string, error) {
		r, err := debRepo(opts, &lang.Source{}, suite, "amd64")
		if err != nil {
			return nil, err
		}
		return r.Keyrings, nil
	}
	if got, err := keyrings("alpha"); err != nil || !slices.Equal(got, []string{"/keys/a.gpg"}) {
		t.Errorf("signed-by source: %v, %v", got, err)
	}
	if got, err := keyrings("beta"); err != nil || got != nil {
		t.Errorf("trusted=yes source: %v, %v; want no keyrings", got, err)
	}
	if _, err := keyrings("gamma"); err == nil || !strings.Contains(err.Error(), "signed-by=KEYRING") {
		t.Errorf("a source without signed-by and no trusted keys: %v, want an error saying what to add", err)
	}
	write("etc/apt/trusted.gpg.d/z.gpg", "")
	write("etc/apt/trusted.gpg.d/a.asc", "")
	write("etc/apt/trusted.gpg.d/readme.txt", "")
	write("etc/apt/trusted.gpg", "")
	want := []string{"etc/apt/trusted.gpg", "etc/apt/trusted.gpg.d/a.asc", "etc/apt/trusted.gpg.d/z.gpg"}
	for i := range want {
		want[i] = filepath.Join(root, want[i])
	}
	if got, err := keyrings("gamma"); err != nil || !slices.Equal(got, want) {
		t.Errorf("a source without signed-by: %v, %v; want apt's trusted keyrings %v", got, err, want)
	}
}

// An explicit repository is checked too: against signed_by, else apt's
// trusted keyrings; trusted = true skips the check.
func TestDebRepoKeyringsOfAnExplicitRepository(t *testing.T) {
	root := t.TempDir()
	opts := DebOptions{AptRoot: root}
	keyrings := func(src lang.Source) ([]string, error) {
		src.Repository = "http://mirror.invalid/debian/"
		r, err := debRepo(opts, &src, "bookworm", "amd64")
		if err != nil {
			return nil, err
		}
		if r.URI != "http://mirror.invalid/debian" {
			t.Errorf("URI %q", r.URI)
		}
		return r.Keyrings, nil
	}
	if _, err := keyrings(lang.Source{}); err == nil || !strings.Contains(err.Error(), "signed_by = KEYRING") {
		t.Errorf("no keys anywhere: %v, want an error saying what to set", err)
	}
	if got, err := keyrings(lang.Source{Trusted: true}); err != nil || got != nil {
		t.Errorf("trusted: %v, %v", got, err)
	}
	if got, err := keyrings(lang.Source{SignedBy: "/k.gpg"}); err != nil || !slices.Equal(got, []string{"/k.gpg"}) {
		t.Errorf("signed_by: %v, %v", got, err)
	}
	asc := filepath.Join(root, "etc/apt/trusted.gpg.d/debian.asc")
	if err := os.MkdirAll(filepath.Dir(asc), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(asc, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := keyrings(lang.Source{}); err != nil || !slices.Equal(got, []string{asc}) {
		t.Errorf("apt's keys: %v, %v", got, err)
	}
}

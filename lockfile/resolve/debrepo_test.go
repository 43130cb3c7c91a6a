package resolve

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
		r, err := debRepo(opts, "", suite, "amd64")
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

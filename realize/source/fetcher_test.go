package source

import "testing"

// TestEveryKindHasAFetcher: the source types the compiler lowers each
// have a fetcher, and nothing else does.
func TestEveryKindHasAFetcher(t *testing.T) {
	for _, kind := range []string{"local", "http", "git", "deb", "image", "oci-layout"} {
		if _, ok := Lookup(kind); !ok {
			t.Errorf("no fetcher for %q", kind)
		}
	}
	if _, ok := Lookup("ftp"); ok {
		t.Errorf("a fetcher for an unknown kind")
	}
	if len(fetchers) != 6 {
		t.Errorf("%d fetchers registered, want 6: a new kind needs a test here", len(fetchers))
	}
}

// TestLocalSourcesStayInTheBuildFolder: a path that leads outside the
// build folder is refused with what to do.
func TestLocalSourcesStayInTheBuildFolder(t *testing.T) {
	req := &Request{Folder: t.TempDir()}
	if _, err := req.inFolder("../etc"); err == nil {
		t.Fatal("../etc was accepted")
	}
	if _, err := req.inFolder("sub/dir"); err != nil {
		t.Fatal(err)
	}
}

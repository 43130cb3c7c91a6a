package debian

import (
	"bytes"
	"io"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

// FuzzDataTar: a .deb is whatever the repository served (the lock pins
// its hash, not its sanity). Finding its data archive must never panic,
// and what it returns is read within a bound (the size limit of the
// source applies downstream).
func FuzzDataTar(f *testing.F) {
	tarBytes := testutil.Tar(f, testutil.TarEntry{Name: "./etc/x", Body: "x"})
	f.Add(testutil.Deb(f, "a", "1", "amd64", "data.tar", tarBytes))
	f.Add(testutil.Deb(f, "a", "1", "amd64", "data.tar.gz", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}))
	f.Add(testutil.Deb(f, "a", "1", "amd64", "data.tar.zst", []byte{0x28, 0xb5, 0x2f, 0xfd}))
	f.Add(testutil.Deb(f, "a", "1", "amd64", "data.tar.xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0}))
	f.Add([]byte("!<arch>\ndata.tar        0           0     0     100644  -1        `\n"))
	f.Add([]byte("!<arch>\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rc, err := DataTar(bytes.NewReader(data))
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(rc, 64<<20))
		rc.Close()
	})
}

// FuzzParseSuites: the suite list comes from the lock and the derivation
// identifier; whatever it parses to formats back to something that parses
// to the same list.
func FuzzParseSuites(f *testing.F) {
	for _, s := range []string{"bookworm", "bookworm bookworm-security=990", "a=-1 b", "a a", "x=0", "../x", "a=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ss, err := ParseSuites(s)
		if err != nil {
			return
		}
		back, err := ParseSuites(FormatSuites(ss))
		if err != nil || len(back) != len(ss) {
			t.Fatalf("%q: round trip gave %v, %v", s, back, err)
		}
		for i := range ss {
			if back[i] != ss[i] || !ValidSuite(ss[i].Name) {
				t.Fatalf("%q: round trip gave %v, want %v", s, back, ss)
			}
		}
	})
}

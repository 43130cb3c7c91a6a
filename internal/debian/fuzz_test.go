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

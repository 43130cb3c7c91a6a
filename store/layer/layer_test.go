package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/internal/unixmode"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

const epoch = 1700000000

// node is one entry of a test tree.
type node struct {
	path   string
	kind   string // dir, file, symlink, hardlink, fifo, whiteout, opaque
	data   string // file contents, symlink or hardlink target
	mode   uint32
	uid    int
	mtime  int64
	xattrs map[string]string
}

// fixture covers every kind of entry a layer may hold.
var fixture = []node{
	{path: "etc", kind: "dir", mode: 0o755, mtime: 1000},
	{path: "etc/passwd", kind: "file", data: "root:x:0:0::/root:/bin/sh\n", mode: 0o644, mtime: 2000},
	{path: "etc/shadow", kind: "file", data: "root:*:1::::::\n", mode: 0o640, uid: 42, mtime: 2001},
	{path: "bin", kind: "dir", mode: 0o755, mtime: 1000},
	{path: "bin/su", kind: "file", data: "#!/bin/sh\n", mode: 0o4755, mtime: 3000, xattrs: map[string]string{"user.b": "2", "user.a": "1"}},
	{path: "bin/sh", kind: "symlink", data: "/bin/busybox", mtime: 3000},
	{path: "bin/sh2", kind: "hardlink", data: "bin/su"},
	{path: "bin/aa-su", kind: "hardlink", data: "bin/su"},
	{path: "tmp", kind: "dir", mode: 0o1777, mtime: 500},
	{path: "tmp/fifo", kind: "fifo", mode: 0o600, mtime: 600},
	{path: "var", kind: "dir", mode: 0o755, mtime: 700},
	{path: "var/cache", kind: "opaque", mode: 0o700, uid: 7, mtime: 800},
	{path: "var/cache/x", kind: "file", data: "x", mode: 0o600, mtime: 900},
	{path: "var/gone", kind: "whiteout", mtime: 1100},
	{path: "var/-dash", kind: "file", data: "", mode: 0o644, mtime: 1100},
	{path: strings.Repeat("long/", 30) + "file", kind: "file", data: "deep", mode: 0o644, mtime: 1200},
	{path: "var/ünicode", kind: "file", data: "u", mode: 0o644, mtime: 1300},
}

// makeTree creates nodes under dir in the given order (parents are created
// as needed, with metadata fixed afterwards), so tests can vary creation
// order, umask and atimes while the resulting tree stays the same.
func makeTree(t testing.TB, dir string, nodes []node, order []int, umask int) {
	t.Helper()
	old := syscall.Umask(umask)
	defer syscall.Umask(old)
	for _, i := range order {
		n := nodes[i]
		p := filepath.Join(dir, n.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		var err error
		switch n.kind {
		case "dir", "opaque":
			err = os.MkdirAll(p, 0o777)
			if err == nil && n.kind == "opaque" {
				err = unix.Setxattr(p, opaqueXattr(), []byte("y"), 0)
			}
		case "file":
			err = os.WriteFile(p, []byte(n.data), 0o666)
		case "symlink":
			err = os.Symlink(n.data, p)
		case "fifo":
			err = unix.Mkfifo(p, 0o666)
		case "whiteout":
			err = unix.Mknod(p, unix.S_IFCHR, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Hardlinks need their target; metadata is fixed last, deepest first,
	// since creating entries changes directory mtimes.
	for _, i := range order {
		n := nodes[i]
		if n.kind == "hardlink" {
			if err := os.Link(filepath.Join(dir, n.data), filepath.Join(dir, n.path)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Implicit parents (the long path) get fixed metadata too.
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			os.Chmod(p, 0o755)
			ts := unix.Timespec{Sec: 100}
			unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, 0)
		}
		return nil
	})
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		p := filepath.Join(dir, n.path)
		if n.kind == "hardlink" {
			continue
		}
		if n.kind != "symlink" {
			if err := os.Lchown(p, n.uid, n.uid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, unixmode.ToFileMode(n.mode)); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range n.xattrs {
			if err := unix.Lsetxattr(p, k, []byte(v), 0); err != nil {
				t.Fatal(err)
			}
		}
		// Atimes vary on purpose: they must not reach the tar.
		at := unix.NsecToTimespec(time.Now().UnixNano() + int64(i)*12345)
		mt := unix.Timespec{Sec: n.mtime, Nsec: int64(i) * 1000}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{at, mt}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

func seq(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

func reversed(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = n - 1 - i
	}
	return o
}

func tarBytes(t testing.TB, dir string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteTar(&b, dir); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type entry struct {
	Name, Link string
	Type       byte
	Mode       int64
	Uid, Gid   int
	Mtime      int64
	Size       int64
	PAX        map[string]string
}

func listTar(t testing.TB, b []byte) []entry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		e := entry{Name: h.Name, Link: h.Linkname, Type: h.Typeflag, Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, Mtime: h.ModTime.Unix(), Size: h.Size}
		for k, v := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.") {
				if e.PAX == nil {
					e.PAX = map[string]string{}
				}
				e.PAX[k] = v
			}
		}
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: atime/ctime/uname/gname present: %+v", h.Name, h)
		}
		out = append(out, e)
	}
}

func TestWriteTarDeterministic(t *testing.T) {
	testutil.RequireRoot(t)
	a, b := t.TempDir(), t.TempDir()
	makeTree(t, a, fixture, seq(len(fixture)), 0o022)
	makeTree(t, b, fixture, reversed(len(fixture)), 0o077)
	ta, tb := tarBytes(t, a), tarBytes(t, b)
	if !bytes.Equal(ta, tb) {
		t.Fatalf("same tree, different tars:\n%s", cmp.Diff(listTar(t, ta), listTar(t, tb)))
	}
	// Reading atimes changed nothing either.
	if again := tarBytes(t, a); !bytes.Equal(ta, again) {
		t.Fatal("second WriteTar of the same tree differs")
	}
}

func TestWriteTarEntries(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	makeTree(t, dir, fixture, seq(len(fixture)), 0o022)
	got := listTar(t, tarBytes(t, dir))
	var names []string
	byName := map[string]entry{}
	for _, e := range got {
		names = append(names, e.Name)
		byName[e.Name] = e
	}
	wantOrder := []string{
		"bin/", "bin/aa-su", "bin/sh", "bin/sh2", "bin/su",
		"etc/", "etc/passwd", "etc/shadow",
		"long/",
	}
	for i, w := range wantOrder {
		if names[i] != w {
			t.Fatalf("entry %d = %q, want %q (all: %q)", i, names[i], w, names)
		}
	}
	wantTail := []string{"tmp/", "tmp/fifo", "var/", "var/-dash", "var/.wh.gone", "var/cache/", "var/cache/.wh..wh..opq", "var/cache/x", "var/ünicode"}
	if d := cmp.Diff(wantTail, names[len(names)-len(wantTail):]); d != "" {
		t.Fatalf("tail order (-want +got):\n%s", d)
	}
	checks := map[string]entry{
		// first in order is the file, later names link to it
		"bin/aa-su":              {Name: "bin/aa-su", Type: tar.TypeReg, Mode: 0o4755, Mtime: 3000, Size: 10, PAX: map[string]string{"SCHILY.xattr.user.a": "1", "SCHILY.xattr.user.b": "2"}},
		"bin/su":                 {Name: "bin/su", Link: "bin/aa-su", Type: tar.TypeLink, Mode: 0o4755, Mtime: 3000, PAX: map[string]string{"SCHILY.xattr.user.a": "1", "SCHILY.xattr.user.b": "2"}},
		"bin/sh":                 {Name: "bin/sh", Link: "/bin/busybox", Type: tar.TypeSymlink, Mode: 0o777, Mtime: 3000},
		"etc/shadow":             {Name: "etc/shadow", Type: tar.TypeReg, Mode: 0o640, Uid: 42, Gid: 42, Mtime: 2001, Size: 15},
		"tmp/":                   {Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777, Mtime: 500},
		"tmp/fifo":               {Name: "tmp/fifo", Type: tar.TypeFifo, Mode: 0o600, Mtime: 600},
		"var/.wh.gone":           {Name: "var/.wh.gone", Type: tar.TypeReg, Mtime: 1100},
		"var/cache/":             {Name: "var/cache/", Type: tar.TypeDir, Mode: 0o700, Uid: 7, Gid: 7, Mtime: 800},
		"var/cache/.wh..wh..opq": {Name: "var/cache/.wh..wh..opq", Type: tar.TypeReg, Mtime: 800},
	}
	for name, want := range checks {
		if d := cmp.Diff(want, byName[name]); d != "" {
			t.Errorf("%s (-want +got):\n%s", name, d)
		}
	}
	// The raw bytes: no opaque xattr leaks, no "./", no leading "/".
	raw := string(tarBytes(t, dir))
	for _, bad := range []string{"trusted.overlay", "./", "atime", "ctime"} {
		if strings.Contains(raw, bad) {
			t.Errorf("tar contains %q", bad)
		}
	}
}

func TestNormalize(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	mk := func(p string, mtime int64, nsec int64) string {
		full := filepath.Join(dir, p)
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
		ts := unix.Timespec{Sec: mtime, Nsec: nsec}
		at := unix.Timespec{Sec: 5}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, full, []unix.Timespec{at, ts}, 0); err != nil {
			t.Fatal(err)
		}
		return full
	}
	os.MkdirAll(filepath.Join(dir, "etc", "sub"), 0o755)
	os.MkdirAll(filepath.Join(dir, "opq"), 0o755)
	newer := mk("etc/newer", epoch+100, 5)
	older := mk("etc/older", epoch-100, 77)
	exact := mk("etc/exact", epoch, 1)
	if err := os.Symlink("/nowhere", filepath.Join(dir, "etc/link")); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"user.keep": "1", "trusted.overlay.origin": "x", "trusted.overlay.impure": "y", "trusted.other": "z", "user.overlay.origin": "u"} {
		if err := unix.Setxattr(older, k, []byte(v), 0); err != nil {
			t.Fatal(k, err)
		}
	}
	unix.Setxattr(filepath.Join(dir, "opq"), opaqueXattr(), []byte("y"), 0)
	unix.Setxattr(filepath.Join(dir, "etc"), opaqueXattr(), []byte("x"), 0)
	unix.Setxattr(newer, opaqueXattr(), []byte("y"), 0) // not a directory: dropped

	if err := Normalize(dir, epoch); err != nil {
		t.Fatal(err)
	}
	stat := func(p string) unix.Stat_t {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	for p, want := range map[string]unix.Timespec{
		newer:                          {Sec: epoch},
		older:                          {Sec: epoch - 100, Nsec: 77},
		exact:                          {Sec: epoch},
		filepath.Join(dir, "etc"):      {Sec: epoch}, // created now, so clamped
		filepath.Join(dir, "etc/sub"):  {Sec: epoch},
		filepath.Join(dir, "etc/link"): {Sec: epoch},
		dir:                            {Sec: epoch},
	} {
		st := stat(p)
		if st.Mtim != want {
			t.Errorf("%s: mtime %v, want %v", p, st.Mtim, want)
		}
		if st.Atim != st.Mtim {
			t.Errorf("%s: atime %v != mtime %v", p, st.Atim, st.Mtim)
		}
	}
	names, _ := listXattrs(older)
	if d := cmp.Diff([]string{"user.keep"}, names); d != "" {
		t.Errorf("xattrs left (-want +got):\n%s", d)
	}
	if names, _ := listXattrs(newer); len(names) != 0 {
		t.Errorf("xattrs left on file: %q", names)
	}
	if ok, _ := isOpaque(filepath.Join(dir, "opq")); !ok {
		t.Error("opaque=y dropped")
	}
	if names, _ := listXattrs(filepath.Join(dir, "etc")); len(names) != 0 {
		t.Errorf("opaque=x kept on etc: %q", names)
	}
	// Idempotent: normalizing again changes nothing in the tar.
	before := tarBytes(t, dir)
	if err := Normalize(dir, epoch); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, tarBytes(t, dir)) {
		t.Error("second Normalize changed the tar")
	}
}

func TestNormalizeRejects(t *testing.T) {
	testutil.RequireRoot(t)
	cases := []struct {
		name string
		make func(p string) error
		want string
	}{
		{"socket", func(p string) error {
			l, err := net.Listen("unix", p)
			if err != nil {
				return err
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			return l.Close()
		}, "is a socket"},
		{"chardev", func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))) }, "character device (1:3)"},
		{"blockdev", func(p string) error { return unix.Mknod(p, unix.S_IFBLK|0o666, int(unix.Mkdev(7, 0))) }, "block device"},
		{"redirect", func(p string) error {
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			return unix.Setxattr(p, "trusted.overlay.redirect", []byte("/a"), 0)
		}, "redirect_dir=off"},
		{".wh.reserved", func(p string) error { return os.WriteFile(p, nil, 0o644) }, "reserve"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, "sub"), 0o755)
			name := c.name
			if name == ".wh.reserved" {
				name = ".wh.x"
			}
			if err := c.make(filepath.Join(dir, "sub", name)); err != nil {
				t.Fatal(err)
			}
			err := Normalize(dir, epoch)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Join("sub", name)) {
				t.Fatalf("Normalize = %v, want an error naming sub/%s and %q", err, name, c.want)
			}
		})
	}
}

func TestUnpackRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	src := t.TempDir()
	makeTree(t, src, fixture, seq(len(fixture)), 0o022)
	canon := tarBytes(t, src)
	dst := t.TempDir()
	if err := Unpack(bytes.NewReader(canon), dst); err != nil {
		t.Fatal(err)
	}
	if got := tarBytes(t, dst); !bytes.Equal(got, canon) {
		t.Fatalf("Unpack+WriteTar differs from input:\n%s", cmp.Diff(listTar(t, canon), listTar(t, got)))
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dst, "var/gone"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout not a 0/0 char device: %v %+v", err, st)
	}
	if ok, err := isOpaque(filepath.Join(dst, "var/cache")); !ok {
		t.Errorf("opaque xattr missing: %v", err)
	}
	d1, n1, err := Hash(src)
	if err != nil {
		t.Fatal(err)
	}
	d2, n2, _ := Hash(dst)
	if d1 != d2 || n1 != n2 || n1 != int64(len(canon)) {
		t.Errorf("Hash: %s/%d vs %s/%d (tar %d bytes)", d1, n1, d2, n2, len(canon))
	}
}

// tarOf builds an in-memory tar from headers; regular files get their
// Linkname as contents so the table stays short.
func tarOf(t testing.TB, hdrs ...*tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		var body []byte
		if h.Typeflag == tar.TypeReg {
			body = []byte("data")
			h.Size = int64(len(body))
		}
		if h.Mode == 0 && h.Typeflag != tar.TypeXGlobalHeader {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	return b.Bytes()
}

func reg(n string) *tar.Header  { return &tar.Header{Name: n, Typeflag: tar.TypeReg} }
func dirh(n string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o755} }
func sym(n, target string) *tar.Header {
	return &tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: target}
}
func link(n, target string) *tar.Header {
	return &tar.Header{Name: n, Typeflag: tar.TypeLink, Linkname: target}
}

// maliciousTars are the attacks Unpack must refuse; FuzzUnpack seeds from them.
func maliciousTars(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"dotdot":               tarOf(t, reg("../escape")),
		"dotdot-inner":         tarOf(t, dirh("a/"), reg("a/../../escape")),
		"absolute-dotdot":      tarOf(t, reg("/../escape")),
		"symlink-write":        tarOf(t, sym("etc", "/outside"), reg("etc/passwd")),
		"symlink-rel-write":    tarOf(t, sym("up", "../.."), reg("up/escape")),
		"symlink-inner-write":  tarOf(t, dirh("d/"), sym("l", "d"), reg("l/x")),
		"symlink-dir-entry":    tarOf(t, sym("l", "/outside"), dirh("l/sub/")),
		"hardlink-escape":      tarOf(t, link("pw", "../../../etc/passwd")),
		"hardlink-abs-escape":  tarOf(t, link("pw", "/../etc/passwd")),
		"hardlink-via-symlink": tarOf(t, sym("l", "/etc"), link("pw", "l/passwd")),
		"hardlink-missing":     tarOf(t, link("pw", "etc/passwd")),
		"chardev":              tarOf(t, &tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}),
		"whiteout-chardev":     tarOf(t, &tar.Header{Name: "wh", Typeflag: tar.TypeChar}),
		"blockdev":             tarOf(t, &tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8}),
		"whiteout-dotdot":      tarOf(t, reg(".wh..."), reg("x")),
		"whiteout-via-symlink": tarOf(t, sym("l", "/tmp"), reg("l/.wh.x")),
		"opaque-via-symlink":   tarOf(t, sym("l", "/tmp"), reg("l/.wh..wh..opq")),
		"hardlink-host-file":   tarOf(t, link("pw", "/etc/passwd")),
		// A directory replaced by a symlink later in the same archive:
		// refused while it has children, and never written through.
		"dir-then-symlink":       tarOf(t, dirh("d/"), reg("d/f"), sym("d", "/outside")),
		"empty-dir-then-symlink": tarOf(t, dirh("d/"), sym("d", "/outside"), reg("d/f")),
		"hardlink-then-write":    tarOf(t, sym("l", "/outside"), link("h", "l"), reg("h/x")),
	}
}

func TestUnpackRejects(t *testing.T) {
	testutil.RequireRoot(t)
	for name, data := range maliciousTars(t) {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "root")
			os.Mkdir(dst, 0o755)
			err := Unpack(bytes.NewReader(data), dst)
			if err == nil {
				t.Fatal("Unpack accepted a malicious tar")
			}
			if !strings.Contains(err.Error(), "entry ") {
				t.Errorf("error does not name the entry: %v", err)
			}
			t.Log(err)
			checkNothingOutside(t, parent)
		})
	}
}

func checkNothingOutside(t testing.TB, parent string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "root" {
			t.Errorf("Unpack wrote %s outside its directory", e.Name())
		}
	}
	for _, p := range []string{"/escape", "/outside", "/tmp/x", "/tmp/.wh..wh..opq"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("Unpack wrote %s", p)
		}
	}
}

func TestUnpackAccepts(t *testing.T) {
	testutil.RequireRoot(t)
	dst := t.TempDir()
	data := tarOf(t,
		// A PAX global header (git archive writes one) is no entry.
		&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "0123abcd"}},
		reg("/abs/file"),               // leading slash: rooted at dir
		reg("./dot/file"),              // "./" prefix
		sym("abs-link", "/etc/passwd"), // absolute targets are just stored
		sym("rel-link", "../../../etc"),
		reg("abs-link"), // replaces the symlink, never writes through it
		dirh("./"),
		link("hl", "/abs/file"),
		reg("implicit/parent/f"),
		&tar.Header{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o640},
	)
	if err := Unpack(bytes.NewReader(data), dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "abs-link")); err != nil || string(b) != "data" {
		t.Errorf("abs-link: %q %v", b, err)
	}
	if target, err := os.Readlink(filepath.Join(dst, "rel-link")); err != nil || target != "../../../etc" {
		t.Errorf("rel-link: %q %v", target, err)
	}
	var a, b unix.Stat_t
	unix.Lstat(filepath.Join(dst, "hl"), &a)
	unix.Lstat(filepath.Join(dst, "abs/file"), &b)
	if a.Ino != b.Ino {
		t.Error("hardlink not linked")
	}
	var st unix.Stat_t
	unix.Lstat(filepath.Join(dst, "implicit"), &st)
	if st.Mtim.Sec != 0 || st.Mode&0o7777 != 0o755 {
		t.Errorf("implicit parent: mtime %d mode %o, want 0 and 755", st.Mtim.Sec, st.Mode&0o7777)
	}
	if _, err := os.Lstat("/etc/passwd"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "pax_global_header")); err == nil {
		t.Error("the PAX global header was unpacked as a file")
	}
}

// TestUnpackHardlinkToSymlink: a hardlink naming a symlink links the
// symlink itself; the host file it points at is neither linked nor read.
func TestUnpackHardlinkToSymlink(t *testing.T) {
	testutil.RequireRoot(t)
	parent := t.TempDir()
	dst := filepath.Join(parent, "root")
	os.Mkdir(dst, 0o755)
	if err := Unpack(bytes.NewReader(tarOf(t, sym("l", "/etc/passwd"), link("h", "l"))), dst); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(dst, "h")); err != nil || target != "/etc/passwd" {
		t.Errorf("h: %q %v, want the symlink itself", target, err)
	}
	var host, h unix.Stat_t
	unix.Stat("/etc/passwd", &host)
	unix.Lstat(filepath.Join(dst, "h"), &h)
	if h.Ino == host.Ino && h.Dev == host.Dev {
		t.Error("h is a hardlink of the host's /etc/passwd")
	}
	checkNothingOutside(t, parent)
}

// A name that is exactly the whiteout prefix cannot be written as a tar
// (WriteTar refuses it), so Normalize refuses it too rather than letting
// the layer fail later at hashing.
func TestNormalizeRejectsBareWhiteoutPrefix(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, WhiteoutPrefix), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Normalize(dir, epoch); err == nil || !strings.Contains(err.Error(), "reserve") {
		t.Fatalf("Normalize = %v, want an error about the reserved prefix", err)
	}
}

func TestUnpackWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	dst := t.TempDir()
	data := tarOf(t, dirh("a/"), reg("a/.wh..wh..opq"), reg("a/keep"), reg(".wh.gone"), &tar.Header{Name: "a/.wh.x", Typeflag: tar.TypeReg, ModTime: time.Unix(77, 0)})
	if err := Unpack(bytes.NewReader(data), dst); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"gone", "a/x"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dst, p), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: not a whiteout: %v", p, err)
		}
	}
	if ok, _ := isOpaque(filepath.Join(dst, "a")); !ok {
		t.Error("a not opaque")
	}
	if _, err := os.Stat(filepath.Join(dst, "a/keep")); err != nil {
		t.Error(err)
	}
}

func TestGolden(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	makeTree(t, dir, fixture, seq(len(fixture)), 0o022)
	d, n, err := Hash(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s %d\n", d, n)
	golden := filepath.Join("testdata", "fixture.diffid")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./store/layer -run TestGolden -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("the canonical tar of the fixture changed: got %s want %s"+
			"every layer digest kiln ever recorded changes with it; if that is intended, run with -update and say so in the change", got, want)
	}
}

func TestDecompress(t *testing.T) {
	payload := tarOf(t, reg("a"), reg("b"))
	for _, c := range []struct {
		name string
		args []string
	}{{"gzip", []string{"gzip", "-c"}}, {"zstd", []string{"zstd", "-c", "-q"}}} {
		t.Run(c.name, func(t *testing.T) {
			compressed, err := pipeThrough(c.args, payload)
			if err != nil {
				t.Skipf("%s not available: %v", c.args[0], err)
			}
			rc, err := Decompress(bytes.NewReader(compressed))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("round trip failed: %v", err)
			}
		})
	}
	rc, err := Decompress(bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, payload) {
		t.Fatal("plain tar altered")
	}
	if _, err := Decompress(bytes.NewReader([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 1})); err == nil || !strings.Contains(err.Error(), "xz") {
		t.Fatalf("xz: %v", err)
	}
	if _, err := Decompress(bytes.NewReader([]byte{0x1f, 0x8b, 0})); err == nil {
		t.Fatal("truncated gzip accepted")
	}
	if rc, err := Decompress(bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	} else if n, _ := io.Copy(io.Discard, rc); n != 0 {
		t.Fatal("empty input")
	}
	_ = errors.New
}

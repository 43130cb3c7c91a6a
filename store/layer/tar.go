package layer

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// copyBufSize is the read size for file contents; it does not affect the
// bytes written, only speed.
const copyBufSize = 1 << 20

type tarWriter struct {
	tw    *tar.Writer
	lay   *layout // set: lay the tar out (tarfile.go) instead of writing it to tw
	root  string
	links map[[2]uint64]string // (dev, ino) -> first tar name
	buf   []byte
}

type child struct {
	name    string // on disk
	tarName string // base name in the tar
	st      unix.Stat_t
}

// WriteTar writes the canonical tar of the layer tree dir to w. Its format
// is specified in the package documentation; every byte depends only on the
// tree's names, contents, modes, ownership, whole-second mtimes,
// allow-listed xattrs and hardlink structure.
func WriteTar(w io.Writer, dir string) error {
	t := &tarWriter{
		tw:    tar.NewWriter(w),
		root:  dir,
		links: map[[2]uint64]string{},
		buf:   make([]byte, copyBufSize),
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("writing layer tar: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("writing layer tar: %s is not a directory", dir)
	}
	if err := t.dir(dir, "", &st); err != nil {
		return fmt.Errorf("writing layer tar of %s: %w", dir, err)
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("writing layer tar of %s: %w", dir, err)
	}
	return nil
}

// dir writes the children of the directory at abs whose tar name is prefix
// ("" for the root, else ending in "/").
func (t *tarWriter) dir(abs, prefix string, st *unix.Stat_t) error {
	opaque, err := isOpaque(abs)
	if err != nil {
		return fmt.Errorf("reading opaque xattr of %q: %w", prefix, err)
	}
	if opaque {
		hdr := whiteoutHeader(prefix+OpaqueWhiteout, st.Mtim.Sec)
		if err := t.header(hdr); err != nil {
			return err
		}
	}
	f, err := os.Open(abs)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	kids := make([]child, len(names))
	for i, n := range names {
		c := &kids[i]
		c.name = n
		if err := unix.Lstat(filepath.Join(abs, n), &c.st); err != nil {
			return err
		}
		c.tarName = n
		if strings.HasPrefix(n, WhiteoutPrefix) {
			return fmt.Errorf("%q: the %s prefix is reserved for whiteouts in OCI layers; rename the file", prefix+n, WhiteoutPrefix)
		}
		if isWhiteout(&c.st) {
			c.tarName = WhiteoutPrefix + n
		}
	}
	sort.Slice(kids, func(i, j int) bool { return kids[i].tarName < kids[j].tarName })
	for i := range kids {
		if err := t.entry(filepath.Join(abs, kids[i].name), prefix, &kids[i]); err != nil {
			return err
		}
	}
	return nil
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// whiteoutHeader is fixed apart from the name and mtime so that the bytes
// do not depend on how the kernel made the whiteout.
func whiteoutHeader(name string, mtime int64) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		ModTime:  time.Unix(mtime, 0),
		Format:   tar.FormatPAX,
	}
}

func (t *tarWriter) entry(abs, prefix string, c *child) error {
	st := &c.st
	name := prefix + c.tarName
	if isWhiteout(st) {
		return t.header(whiteoutHeader(name, st.Mtim.Sec))
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0),
		Format:  tar.FormatPAX,
	}
	xattrs, err := allowedXattrs(abs)
	if err != nil {
		return fmt.Errorf("reading xattrs of %q: %w", name, err)
	}
	if len(xattrs) > 0 {
		hdr.PAXRecords = make(map[string]string, len(xattrs))
		for k, v := range xattrs {
			hdr.PAXRecords["SCHILY.xattr."+k] = string(v)
		}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if err := t.header(hdr); err != nil {
			return err
		}
		return t.dir(abs, hdr.Name, st)
	case unix.S_IFLNK:
		target, err := os.Readlink(abs)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
		return t.header(hdr)
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
		return t.header(hdr)
	case unix.S_IFREG:
		if st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := t.links[key]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				return t.header(hdr)
			}
			t.links[key] = name
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		return t.file(abs, hdr)
	default:
		return fmt.Errorf("%q has file type %#o, which a layer cannot hold (run Normalize first)", name, st.Mode&unix.S_IFMT)
	}
}

// header writes an entry without content.
func (t *tarWriter) header(hdr *tar.Header) error {
	if t.lay != nil {
		return t.lay.header(hdr)
	}
	return t.tw.WriteHeader(hdr)
}

func (t *tarWriter) file(abs string, hdr *tar.Header) error {
	if t.lay != nil {
		if err := t.lay.header(hdr); err != nil {
			return err
		}
		return t.lay.content(abs, hdr.Size)
	}
	f, err := os.OpenFile(abs, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := t.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyBuffer(t.tw, io.LimitReader(f, hdr.Size), t.buf)
	if err != nil {
		return fmt.Errorf("reading %q: %w", hdr.Name, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("%q shrank from %d to %d bytes while being read; layers must not change while they are hashed", hdr.Name, hdr.Size, n)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Hash returns the layer's identity: the sha256 of its canonical tar (its
// OCI diff_id) and that tar's size in bytes.
func Hash(dir string) (digest.Digest, int64, error) {
	h := sha256.New()
	cw := &countingWriter{w: h}
	if err := WriteTar(cw, dir); err != nil {
		return "", 0, err
	}
	return digest.NewDigest(digest.SHA256, h), cw.n, nil
}

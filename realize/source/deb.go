package source

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/debian"
	"github.com/kiln-build/kiln/store/layer"
)

// DebPackage is one pinned package of a deb source.
type DebPackage struct {
	Name, Version, Architecture string
	// Filename is the pool path below the repository base.
	Filename string
	SHA256   string
	Size     int64
}

// ParseDebManifest reads the package list a deb derivation carries (one
// "NAME VERSION ARCHITECTURE FILENAME SHA256 SIZE" line per package, as
// lockfile.DebManifest writes it).
func ParseDebManifest(s string) ([]DebPackage, error) {
	var out []DebPackage
	for i, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		f := strings.Fields(l)
		if len(f) != 6 {
			return nil, fmt.Errorf("deb manifest line %d: %q does not have 6 fields", i+1, l)
		}
		n, err := strconv.ParseInt(f[5], 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("deb manifest line %d: bad size %q", i+1, f[5])
		}
		if len(f[4]) != 64 {
			return nil, fmt.Errorf("deb manifest line %d: bad sha256 %q", i+1, f[4])
		}
		if strings.HasPrefix(f[3], "/") || strings.Contains("/"+f[3]+"/", "/../") {
			return nil, fmt.Errorf("deb manifest line %d: filename %q leaves the repository", i+1, f[3])
		}
		out = append(out, DebPackage{Name: f[0], Version: f[1], Architecture: f[2], Filename: f[3], SHA256: f[4], Size: n})
	}
	return out, nil
}

// DebCache keeps verified .deb files by sha256 (the kiln store's blobs),
// so that a package is downloaded once per store whatever closure it is
// part of.
type DebCache interface {
	// Open returns the cached file with this sha256 (hex), or nil when
	// there is none.
	Open(sha256 string) (io.ReadCloser, error)
	// Add stores r's content if and only if its sha256 is the given one.
	Add(r io.Reader, sha256 string) error
}

// MismatchError is a downloaded .deb whose sha256 is not the lock's.
type MismatchError struct {
	Package  string
	Version  string
	Want     string
	Got      string
	Filename string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("package %s %s (%s): sha256 mismatch: the lock pins %s but the mirror sent %s; nothing was stored. If the repository really changed the package, run `kiln lock --update` for this source", e.Package, e.Version, e.Filename, e.Want, e.Got)
}

// FetchDebs makes sure every package is in cache, downloading the missing
// ones at most jobs at a time. Each download is checked against its pinned
// sha256 and size before the cache keeps it. mirrors are the repository
// bases of the source's suites, in order: a package is fetched from the
// first that has its pool file (a suite such as bookworm-security may live
// elsewhere); the lock does not record which, since the hash decides.
func FetchDebs(ctx context.Context, client *http.Client, mirrors []string, pkgs []DebPackage, cache DebCache, jobs int) error {
	if len(mirrors) == 0 {
		return errors.New("no repository to download the packages from")
	}
	if client == nil {
		client = http.DefaultClient
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(jobs, 1))
	for _, p := range pkgs {
		if rc, err := cache.Open(p.SHA256); err != nil {
			return err
		} else if rc != nil {
			rc.Close()
			continue
		}
		g.Go(func() error {
			// A wrong file in one repository does not hide the right one in
			// the next (the hash decides); it is the error only when no
			// repository has the pinned file.
			var mismatch error
			for _, m := range mirrors {
				err := fetchDeb(ctx, client, m, p, cache)
				var me *MismatchError
				switch {
				case errors.As(err, &me):
					if mismatch == nil {
						mismatch = err
					}
				case !errors.Is(err, errNotThere):
					return err
				}
			}
			if mismatch != nil {
				return mismatch
			}
			if len(mirrors) > 1 {
				return pinErr(fmt.Errorf("package %s %s is no longer in the repositories (%s answered 404 for %s)", p.Name, p.Version, strings.Join(mirrors, ", "), p.Filename))
			}
			return pinErr(fmt.Errorf("package %s %s is no longer in the repository (%s answered 404 for %s)", p.Name, p.Version, mirrors[0], p.Filename))
		})
	}
	return g.Wait()
}

func fetchDeb(ctx context.Context, client *http.Client, mirror string, p DebPackage, cache DebCache) error {
	u := strings.TrimSuffix(mirror, "/") + "/" + p.Filename
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("package %s: %w", p.Name, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("downloading package %s %s: %w", p.Name, p.Version, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return errNotThere
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading package %s %s: the repository answered %s for %s", p.Name, p.Version, resp.Status, p.Filename)
	}
	h := sha256.New()
	cr := &countingHash{r: io.LimitReader(resp.Body, p.Size+1), h: h}
	err = cache.Add(cr, p.SHA256)
	got := hex.EncodeToString(h.Sum(nil))
	if cr.err != nil && cr.err != io.EOF {
		// A transfer cut short is not the repository serving other bytes:
		// retrying may do, changing the lock would not.
		return fmt.Errorf("downloading package %s %s from %s: %w; nothing was kept, try again", p.Name, p.Version, mirror, cr.err)
	}
	if got != p.SHA256 || cr.n != p.Size {
		// cache.Add checked the hash too and kept nothing.
		return &MismatchError{Package: p.Name, Version: p.Version, Filename: p.Filename, Want: p.SHA256, Got: got}
	}
	if err != nil {
		return fmt.Errorf("downloading package %s %s: %w", p.Name, p.Version, err)
	}
	return nil
}

// errNotThere is a 404 for a pool file: the next repository may have it.
var errNotThere = errors.New("not in this repository")

// countingHash hashes and counts what is read through it, and keeps the
// first read error, so that a broken transfer is told from a mismatch.
type countingHash struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	err error
}

func (c *countingHash) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.h.Write(b[:n])
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// mergedUsr are the top-level directories Debian 12 systems have as
// symlinks into /usr (merged /usr, as debootstrap makes them).
var mergedUsr = []string{"bin", "lib", "lib32", "lib64", "libx32", "sbin"}

// AssembleDebs unpacks the data archives of pkgs (read from cache) into
// tree, which must be empty, as dpkg --unpack would without running any
// maintainer script: packages in the given order (later files replace
// earlier ones), paths under /bin, /sbin and /lib* moved into /usr with
// symlinks in their place (merged /usr), and then the few files the
// scripts of essential packages would create that builds need:
// /etc/passwd and /etc/group (base-passwd's master copies when present,
// else a root-only pair), and /root and /tmp. docs/deb.md lists them.
// More than maxSize bytes of data archives (0: DefaultMaxSize) is a
// *SizeLimitError.
func AssembleDebs(pkgs []DebPackage, cache DebCache, tree string, maxSize int64) error {
	pr, pw := io.Pipe()
	seen := map[string]bool{}
	go func() {
		pw.CloseWithError(writeDebTar(sortedByName(pkgs), cache, pw, seen))
	}()
	err := layer.Unpack(newSizeBudget(maxSize).reader(pr), tree)
	pr.CloseWithError(errors.New("unpacking stopped"))
	if err != nil {
		return err
	}
	return generateDebFiles(tree)
}

func writeDebTar(pkgs []DebPackage, cache DebCache, w io.Writer, seen map[string]bool) error {
	tw := tar.NewWriter(w)
	for _, p := range pkgs {
		if err := copyDebData(p, cache, tw, seen); err != nil {
			return err
		}
	}
	// The merged-/usr links, for the directories that exist in /usr.
	for _, d := range mergedUsr {
		if !seen[d] {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: d, Linkname: "usr/" + d, Mode: 0o777}); err != nil {
			return err
		}
	}
	return tw.Close()
}

func copyDebData(p DebPackage, cache DebCache, tw *tar.Writer, seen map[string]bool) error {
	rc, err := cache.Open(p.SHA256)
	if err != nil {
		return err
	}
	if rc == nil {
		return fmt.Errorf("package %s %s is not in the store; this is a bug", p.Name, p.Version)
	}
	defer rc.Close()
	data, err := debian.DataTar(rc)
	if err != nil {
		return fmt.Errorf("package %s %s: %w", p.Name, p.Version, err)
	}
	defer data.Close()
	tr := tar.NewReader(data)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("package %s %s: reading data.tar: %w", p.Name, p.Version, err)
		}
		name, top := usrMerged(hdr.Name)
		if name == "" {
			continue // the root directory
		}
		if top != "" {
			seen[top] = true
		}
		hdr.Name = name
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname, _ = usrMerged(hdr.Linkname)
		}
		// Names are stored numerically; dpkg resolves users by name only
		// for statoverrides, which kiln does not apply.
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("package %s %s: %w", p.Name, p.Version, err)
		}
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
			if _, err := io.Copy(tw, tr); err != nil {
				return fmt.Errorf("package %s %s: %s: %w", p.Name, p.Version, hdr.Name, err)
			}
		}
	}
}

// usrMerged cleans a data.tar name and moves it below usr/ when its first
// component is one of mergedUsr; top is that component.
func usrMerged(n string) (name, top string) {
	n = strings.TrimPrefix(path.Clean("/"+n), "/")
	if n == "" {
		return "", ""
	}
	first, _, _ := strings.Cut(n, "/")
	for _, d := range mergedUsr {
		if first == d {
			return "usr/" + n, d
		}
	}
	return n, ""
}

// maxPasswdMaster bounds what is read of base-passwd's master files (about
// 1 KiB in Debian): they are copied whole into /etc.
const maxPasswdMaster = 1 << 20

// generateDebFiles writes /etc/passwd, /etc/group, /root and /tmp into tree.
// Every path is resolved inside tree, as the image itself will see it: the
// packages' data archives are untrusted, and a symlink they ship (etc ->
// /some/host/dir, passwd.master -> /etc/shadow) names a file of the image,
// never one of the host kiln runs on. Modes are set explicitly, so the
// caller's umask does not reach the layer.
func generateDebFiles(tree string) error {
	root, err := os.OpenFile(tree, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	etc, err := debEtc(root)
	if err != nil {
		return err
	}
	defer etc.Close()
	for _, f := range []struct{ name, master, fallback string }{
		{"passwd", "passwd.master", "root:x:0:0:root:/root:/bin/sh\n"},
		{"group", "group.master", "root:x:0:\n"},
	} {
		if ok, err := existsAt(int(etc.Fd()), f.name); err != nil || ok {
			if err != nil {
				return fmt.Errorf("deb source: /etc/%s: %w", f.name, err)
			}
			continue
		}
		b, err := readInRoot(root, "usr/share/base-passwd/"+f.master, maxPasswdMaster)
		if errors.Is(err, fs.ErrNotExist) {
			b, err = []byte(f.fallback), nil
		}
		if err != nil {
			return fmt.Errorf("deb source: /usr/share/base-passwd/%s: %w", f.master, err)
		}
		if err := writeFileAt(int(etc.Fd()), f.name, b, 0o644); err != nil {
			return fmt.Errorf("deb source: writing /etc/%s: %w", f.name, err)
		}
	}
	for _, d := range []struct {
		name string
		mode uint32
	}{{"root", 0o700}, {"tmp", 0o1777}} {
		if ok, err := existsAt(int(root.Fd()), d.name); err != nil || ok {
			if err != nil {
				return fmt.Errorf("deb source: /%s: %w", d.name, err)
			}
			continue
		}
		if err := mkdirAt(int(root.Fd()), d.name, d.mode); err != nil {
			return fmt.Errorf("deb source: creating /%s: %w", d.name, err)
		}
	}
	return nil
}

// debEtc opens /etc of the tree, resolved inside it, creating it (0755)
// when no package shipped one.
func debEtc(root *os.File) (*os.File, error) {
	etc, err := pathrs.OpenatInRoot(root, "etc")
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(etc.Fd()), &st); err != nil {
			etc.Close()
			return nil, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			etc.Close()
			return nil, errors.New("deb source: /etc is not a directory; a package ships something else in its place")
		}
		return etc, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("deb source: opening /etc: %w", err)
	}
	if ok, lerr := existsAt(int(root.Fd()), "etc"); lerr != nil || ok {
		// Only a dangling symlink exists without resolving. Creating its
		// target would make directories a package only named.
		return nil, errors.New("deb source: /etc is a symlink to a missing directory; a package ships it, and no Debian system has one")
	}
	if err := mkdirAt(int(root.Fd()), "etc", 0o755); err != nil {
		return nil, fmt.Errorf("deb source: creating /etc: %w", err)
	}
	return pathrs.OpenatInRoot(root, "etc")
}

// readInRoot reads the regular file p, resolved inside root (symlinks
// included), and at most max bytes of it.
func readInRoot(root *os.File, p string, max int64) ([]byte, error) {
	h, err := pathrs.OpenatInRoot(root, p)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	f, size, err := reopenRegular(h)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > max {
		return nil, fmt.Errorf("%d bytes, more than the %d kiln reads", size, max)
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// reopenRegular opens the O_PATH handle h for reading if it is a regular
// file. Anything else is refused: a FIFO shipped by a source would block
// the read forever, and a device is never data.
func reopenRegular(h *os.File) (*os.File, int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, 0, fmt.Errorf("not a regular file (mode %#o)", st.Mode)
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	return f, st.Size, err
}

// existsAt says whether dirfd holds name itself, not following a symlink.
func existsAt(dirfd int, name string) (bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return err == nil, err
}

// writeFileAt creates name in dirfd (it must not exist) with exactly mode.
func writeFileAt(dirfd int, name string, b []byte, mode uint32) error {
	fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	return f.Close()
}

// mkdirAt creates the directory name in dirfd with exactly mode.
func mkdirAt(dirfd int, name string, mode uint32) error {
	if err := unix.Mkdirat(dirfd, name, 0o700); err != nil {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fchmod(fd, mode)
}

// sortedByName is the unpack order: by package name, so that the result
// does not depend on the order of lines in the lock.
func sortedByName(pkgs []DebPackage) []DebPackage {
	out := append([]DebPackage(nil), pkgs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// debFetchJobs bounds concurrent .deb downloads: enough to hide latency,
// few enough to be polite to a public mirror.
const debFetchJobs = 4

// debFetcher assembles a deb source's root filesystem from its pinned
// packages (attribute packages), which come from req.Debs, downloaded
// first when missing.
type debFetcher struct{}

func (debFetcher) Fetch(ctx context.Context, req *Request) (Fetched, error) {
	tree, err := req.NewDir()
	if err != nil {
		return Fetched{}, err
	}
	pkgs, err := ParseDebManifest(req.Attrs["packages"])
	if err != nil {
		return Fetched{}, err
	}
	for _, p := range pkgs {
		rc, err := req.Debs.Open(p.SHA256)
		if err != nil {
			return Fetched{}, err
		}
		if rc == nil {
			// Something is missing: only now is a mirror needed.
			mirrors, err := debMirrors(req)
			if err != nil {
				return Fetched{}, err
			}
			if err := FetchDebs(ctx, nil, mirrors, pkgs, req.Debs, debFetchJobs); err != nil {
				return Fetched{}, err
			}
			break
		}
		rc.Close()
	}
	if err := AssembleDebs(pkgs, req.Debs, tree, req.MaxSize); err != nil {
		return Fetched{}, err
	}
	return Fetched{Tree: tree}, nil
}

// debMirrors are where the packages are downloaded from, one per suite
// of the request in its order (duplicates dropped): the build's repository
// for the suite, else its repository for every suite, else the machine's
// apt source for the suite.
func debMirrors(req *Request) ([]string, error) {
	// The identifier is "SUITES/ARCH"; a suite such as "bookworm/updates"
	// holds a slash, an architecture never does.
	spec := req.Identifier
	if i := strings.LastIndexByte(spec, '/'); i >= 0 {
		spec = spec[:i]
	}
	suites, err := debian.ParseSuites(spec)
	if err != nil {
		return nil, fmt.Errorf("deb source %q: %w", req.Identifier, err)
	}
	var srcs []debian.AptSource
	var out []string
	seen := map[string]bool{}
	for _, s := range suites {
		u := req.Mirrors[s.Name]
		if u == "" {
			u = req.Mirror
		}
		if u == "" {
			if srcs == nil {
				if srcs, err = debian.ReadAptSources("/"); err != nil {
					return nil, fmt.Errorf("reading the apt configuration: %w", err)
				}
			}
			as, err := debian.FindSuite(srcs, s.Name)
			if err != nil {
				return nil, err
			}
			u = as.URI
		}
		u = strings.TrimSuffix(u, "/")
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out, nil
}

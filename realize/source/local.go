package source

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/unixmode"
)

// StatCache persists what LocalHash learnt about files between runs: a key
// derived from a file's path, a value encoding its stat fields and content
// hash. The store implements it with its metadata index under a fixed
// namespace.
type StatCache interface {
	Get(key string) ([]byte, bool, error)
	Put(key string, val []byte) error
}

// MemStatCache is a StatCache in memory, for tests and for runs without a
// store. The zero value is ready to use and safe for concurrent use.
type MemStatCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

var _ StatCache = (*MemStatCache)(nil)

// Get returns the value stored under key.
func (c *MemStatCache) Get(key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok, nil
}

// Put stores a copy of val under key.
func (c *MemStatCache) Put(key string, val []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[key] = append([]byte(nil), val...)
	return nil
}

// localIgnoreFiles are read from the source root, first found wins: kiln's
// own name lets a project keep a .dockerignore for docker and a different
// list for kiln.
var localIgnoreFiles = []string{".kilnignore", ".dockerignore"}

// localHashVersion starts every hashed stream, so a change of the record
// format can never collide with an old hash.
const localHashVersion = "kiln-local-v1\x00"

// localStatKeyPrefix versions the stat cache keys for the same reason.
const localStatKeyPrefix = "local-stat-v1:"

// localRacyWindow is how recent a file's mtime or ctime may be, relative to
// the start of the hash that recorded it, before its cache entry is distrusted:
// a same-size write landing in the same timestamp tick as the one we read
// would otherwise leave every stat field unchanged (git's "racy clean"
// problem). Two seconds covers the coarsest timestamps (FAT, some network
// filesystems); the price is one extra read of files changed just before a
// build.
const localRacyWindow = 2 * time.Second

// localEntry is one kept path of a local source, as the walk found it.
type localEntry struct {
	rel    string // slash-separated, relative to the root
	abs    string
	mode   fs.FileMode // type and permission bits from lstat
	target string      // symlink target
	st     unix.Stat_t
	sum    [sha256.Size]byte // regular files, once known
}

// localHasher carries one LocalHash run's settings: tests swap the clock
// and count content reads to prove the stat cache works.
type localHasher struct {
	now   func() time.Time
	reads atomic.Int64
	lists atomic.Int64 // directories listed (not found in the cache)
}

// LocalHash computes the content hash of the local source in dir (an
// absolute path), filtered by include and exclude patterns and by the
// .kilnignore file in dir (else .dockerignore), with .dockerignore
// semantics. The hash covers, for each kept path in walk order (entries
// sorted by name, parents before children): the relative path, its type,
// its permission bits (with setuid, setgid and sticky), a symlink's target
// and a file's content sha256. Owners and times are left out so that a
// fresh checkout hashes like an old one. File contents are read only for
// files whose stat fields changed since cache last saw them; cache may be
// nil. The result has the form "sha256:<hex>".
func LocalHash(dir string, include, exclude []string, cache StatCache) (string, error) {
	h := &localHasher{now: time.Now}
	return h.hash(dir, include, exclude, cache)
}

func (lh *localHasher) hash(dir string, include, exclude []string, cache StatCache) (string, error) {
	start := lh.now()
	root, entries, err := localWalk(dir, include, exclude, &localDirCache{cache: cache, start: start, lh: lh})
	if err != nil {
		return "", err
	}
	defer root.Close()
	if err := lh.fileSums(root, entries, cache, start); err != nil {
		return "", err
	}
	d := newLocalDigest()
	for i := range entries {
		d.add(&entries[i])
	}
	return d.sum(), nil
}

// fileSums fills in the content hash of every regular file, from the cache
// when its stat fields are unchanged, else by reading it. Reads run in
// parallel: a cold hash of many small files is bound by syscalls, not CPU.
func (lh *localHasher) fileSums(root *os.File, entries []localEntry, cache StatCache, start time.Time) error {
	var idx []int
	for i := range entries {
		if entries[i].mode.IsRegular() {
			idx = append(idx, i)
		}
	}
	workers := min(runtime.GOMAXPROCS(0)*2, len(idx))
	var (
		next    atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
		failed  atomic.Bool
	)
	for range workers {
		wg.Go(func() {
			for !failed.Load() {
				n := int(next.Add(1)) - 1
				if n >= len(idx) {
					return
				}
				if err := lh.fileSum(root, &entries[idx[n]], cache, start); err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// localStatRecord is a stat cache value: the stat fields that change when a
// file does, when they were recorded, and the content hash.
type localStatRecord struct {
	size, mtime, ctime int64
	ino, dev           uint64
	mode               uint32
	recorded           int64
	sum                [sha256.Size]byte
}

const localStatRecordLen = 8*7 + 4 + sha256.Size

func (r *localStatRecord) encode() []byte {
	b := make([]byte, 0, localStatRecordLen)
	b = binary.BigEndian.AppendUint64(b, uint64(r.size))
	b = binary.BigEndian.AppendUint64(b, uint64(r.mtime))
	b = binary.BigEndian.AppendUint64(b, uint64(r.ctime))
	b = binary.BigEndian.AppendUint64(b, r.ino)
	b = binary.BigEndian.AppendUint64(b, r.dev)
	b = binary.BigEndian.AppendUint32(b, r.mode)
	b = binary.BigEndian.AppendUint64(b, uint64(r.recorded))
	b = binary.BigEndian.AppendUint64(b, 0) // reserved
	return append(b, r.sum[:]...)
}

func decodeLocalStatRecord(b []byte) (localStatRecord, bool) {
	var r localStatRecord
	if len(b) != localStatRecordLen {
		return r, false
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[i:]) }
	r.size, r.mtime, r.ctime = int64(u(0)), int64(u(8)), int64(u(16))
	r.ino, r.dev = u(24), u(32)
	r.mode = binary.BigEndian.Uint32(b[40:])
	r.recorded = int64(u(44))
	copy(r.sum[:], b[60:])
	return r, true
}

func localRecordOf(st *unix.Stat_t) localStatRecord {
	return localStatRecord{
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
		ino:   st.Ino,
		dev:   st.Dev,
		mode:  st.Mode,
	}
}

func (lh *localHasher) fileSum(root *os.File, e *localEntry, cache StatCache, start time.Time) error {
	cur := localRecordOf(&e.st)
	key := localStatKeyPrefix + e.abs
	if cache != nil {
		v, ok, err := cache.Get(key)
		if err != nil {
			return fmt.Errorf("reading stat cache for %s: %w", e.abs, err)
		}
		if ok {
			if old, ok := decodeLocalStatRecord(v); ok && old.sameFile(&cur) && !old.racy() {
				e.sum = old.sum
				return nil
			}
		}
	}
	lh.reads.Add(1)
	f, err := openNoFollow(root, e.rel, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return fmt.Errorf("hashing %s: %w", e.abs, err)
	}
	defer f.Close()
	sh := sha256.New()
	if _, err := io.Copy(sh, f); err != nil {
		return fmt.Errorf("hashing %s: %w", e.abs, err)
	}
	// A file that changed while being read must not be cached under the
	// stat fields seen before the read.
	var after unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &after); err != nil {
		return fmt.Errorf("hashing %s: %w", e.abs, err)
	}
	if now := localRecordOf(&after); !now.sameFile(&cur) {
		return fmt.Errorf("hashing %s: the file changed while it was read; run the build again once it is stable", e.abs)
	}
	copy(e.sum[:], sh.Sum(nil))
	if cache != nil {
		cur.recorded = start.UnixNano()
		cur.sum = e.sum
		if err := cache.Put(key, cur.encode()); err != nil {
			return fmt.Errorf("writing stat cache for %s: %w", e.abs, err)
		}
	}
	return nil
}

func (r *localStatRecord) sameFile(o *localStatRecord) bool {
	return r.size == o.size && r.mtime == o.mtime && r.ctime == o.ctime &&
		r.ino == o.ino && r.dev == o.dev && r.mode == o.mode
}

// racy reports whether the file was modified so shortly before it was
// recorded that a later same-size write could have kept its timestamps.
func (r *localStatRecord) racy() bool {
	limit := r.recorded - int64(localRacyWindow)
	return r.mtime >= limit || r.ctime >= limit
}

// localDigest is the hashed stream of entry records. Fields end in NUL,
// which no path or symlink target can contain, so records cannot be
// confused with one another.
type localDigest struct {
	h   hash.Hash
	buf []byte
}

func newLocalDigest() *localDigest {
	d := &localDigest{h: sha256.New()}
	d.h.Write([]byte(localHashVersion))
	return d
}

func (d *localDigest) add(e *localEntry) {
	b := d.buf[:0]
	b = append(b, e.rel...)
	b = append(b, 0)
	switch {
	case e.mode.IsDir():
		b = append(b, 'd', 0)
		b = strconv.AppendUint(b, uint64(unixmode.FromFileMode(e.mode)), 8)
		b = append(b, 0, 0)
	case e.mode&fs.ModeSymlink != 0:
		// Linux ignores a symlink's own mode, so it is not hashed.
		b = append(b, 'l', 0, '0', 0)
		b = append(b, e.target...)
		b = append(b, 0)
	default:
		b = append(b, 'f', 0)
		b = strconv.AppendUint(b, uint64(unixmode.FromFileMode(e.mode)), 8)
		b = append(b, 0)
		b = hex.AppendEncode(b, e.sum[:])
		b = append(b, 0)
	}
	d.buf = b
	d.h.Write(b)
}

func (d *localDigest) sum() string {
	return "sha256:" + hex.EncodeToString(d.h.Sum(nil))
}

// localFilter is the combined include and exclude decision of one walk.
type localFilter struct {
	include *ignoreMatcher // nil: everything is included
	exclude *ignoreMatcher
}

func newLocalFilter(root *os.File, dir string, include, exclude []string) (*localFilter, error) {
	f := &localFilter{}
	if len(include) > 0 {
		m, err := newIgnoreMatcher(include)
		if err != nil {
			return nil, fmt.Errorf("local source %s: include: %w", dir, err)
		}
		f.include = m
	}
	var pats []string
	for _, name := range localIgnoreFiles {
		p := filepath.Join(dir, name)
		file, err := openIgnoreFile(root, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		pats, err = parseIgnoreFile(file)
		file.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if _, err := newIgnoreMatcher(pats); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		break
	}
	// The build file's own excludes come last so that they win.
	pats = append(pats, exclude...)
	m, err := newIgnoreMatcher(pats)
	if err != nil {
		return nil, fmt.Errorf("local source %s: exclude: %w", dir, err)
	}
	f.exclude = m
	return f, nil
}

// localWalk lists the kept entries of dir in hash order. Symlinks are
// recorded, never followed. Directories that are not kept themselves but
// hold kept entries are listed too, since the entries need them; excluded
// directories are not entered unless an exception pattern could reach
// inside them, so an ignored node_modules or .git costs nothing.
//
// The returned root is dir, opened: every later open of an entry goes
// through it without following symlinks (openNoFollow), so the files read
// are the ones the walk saw. The caller closes it.
//
// dc, when not nil, keeps each directory's listing (names, types and
// symlink targets) in the stat cache, so that an unchanged directory is
// neither read nor its symlinks' targets read again.
func localWalk(dir string, include, exclude []string, dc *localDirCache) (*os.File, []localEntry, error) {
	if !filepath.IsAbs(dir) {
		return nil, nil, fmt.Errorf("local source %q: the path must be absolute", dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("local source: %w", err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("local source %s: not a directory", dir)
	}
	root, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("local source: %w", err)
	}
	filter, err := newLocalFilter(root, dir, include, exclude)
	if err != nil {
		root.Close()
		return nil, nil, err
	}
	var out []localEntry
	if err := localWalkDir(filter, dc, root, filepath.Clean(dir), "", nil, nil, &out); err != nil {
		root.Close()
		return nil, nil, err
	}
	return root, out, nil
}

// localWalkDir lists the directory d, open at abs. Children are looked at
// through d's descriptor, never through their path, so a directory swapped
// for a symlink during the walk is not followed out of the tree.
func localWalkDir(f *localFilter, dc *localDirCache, d *os.File, abs, rel string, incHits, excHits []bool, out *[]localEntry) error {
	ents, rec, err := dc.list(d, abs)
	if err != nil {
		return err
	}
	dfd := int(d.Fd())
	for i := range ents {
		de := &ents[i]
		name := de.name
		crel := name
		if rel != "" {
			crel = rel + "/" + name
		}
		cabs := localChild(abs, name)
		ih := f.include.hits(incHits, crel)
		eh := f.exclude.hits(excHits, crel)
		included := f.include == nil || f.include.matched(ih)
		excluded := f.exclude.matched(eh)
		kept := included && !excluded

		e := localEntry{rel: crel, abs: cabs}
		// The directory entry's type (d_type) spares the lstat of what the
		// hash takes nothing else from: an excluded file, and a symlink,
		// of which only the target counts (a symlink is never changed in
		// place, so there is no stat cache to consult). The type is only a
		// hint: the target is read through d, and an entry that is not a
		// symlink by then goes the lstat way below.
		switch {
		case !kept && !de.typ.IsDir():
			continue
		case kept && de.typ == fs.ModeSymlink && de.hasTarget:
			e.mode = fs.ModeSymlink | 0o777
			e.target = de.target
			*out = append(*out, e)
			continue
		case kept && de.typ == fs.ModeSymlink:
			target, err := readlinkat(dfd, name)
			if err == nil {
				e.mode = fs.ModeSymlink | 0o777
				e.target = target
				de.target, de.hasTarget = target, true
				*out = append(*out, e)
				continue
			}
			rec.unstable()
			if errors.Is(err, syscall.ENOENT) {
				continue // deleted since readdir
			}
			if !errors.Is(err, syscall.EINVAL) {
				return fmt.Errorf("reading symlink %s: %w", cabs, err)
			}
			// Replaced by something else since readdir: lstat it.
		}
		if err := unix.Fstatat(dfd, name, &e.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, syscall.ENOENT) {
				// Deleted between readdir and lstat: it is simply not there.
				rec.unstable()
				continue
			}
			return fmt.Errorf("stat %s: %w", cabs, err)
		}
		e.mode = localFileMode(&e.st)
		switch {
		case e.mode.IsDir():
			mayInclude := included || f.include.mayFlipBelow(crel, false)
			mayUnexclude := !excluded || f.exclude.mayFlipBelow(crel, true)
			if !kept && !(mayInclude && mayUnexclude) {
				continue
			}
			at := len(*out)
			*out = append(*out, e)
			fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("reading directory %s: %w", cabs, noFollowError(d, name, err))
			}
			sub := os.NewFile(uintptr(fd), cabs)
			err = localWalkDir(f, dc, sub, cabs, crel, ih, eh, out)
			sub.Close()
			if err != nil {
				return err
			}
			if !kept && len(*out) == at+1 {
				// Entered only in case something inside was kept; nothing was.
				*out = (*out)[:at]
			}
			continue
		case !kept:
			continue
		case e.mode&fs.ModeSymlink != 0:
			t, err := readlinkat(dfd, name)
			if err != nil {
				return fmt.Errorf("reading symlink %s: %w", cabs, err)
			}
			e.target = t
		case e.mode.IsRegular():
		default:
			return fmt.Errorf("local source: %s is a %s, which cannot be part of a layer; exclude it in .kilnignore or the source's exclude list", cabs, localTypeName(e.mode))
		}
		*out = append(*out, e)
	}
	return dc.store(rec, abs, ents)
}

// localChild is filepath.Join(abs, name) for a clean abs and a name read
// from a directory, without Join's cleaning pass over the whole path.
func localChild(abs, name string) string {
	if abs == "/" {
		return "/" + name
	}
	return abs + "/" + name
}

func localFileMode(st *unix.Stat_t) fs.FileMode {
	m := unixmode.ToFileMode(st.Mode)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFREG:
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	default:
		m |= fs.ModeIrregular
	}
	return m
}

func localTypeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// CopyLocal copies the local source in dir, filtered exactly as LocalHash
// filters it, into dest (an existing, empty directory) to become a layer:
// directories, regular files and symlinks, with their permission bits,
// owned by 0:0, every time set to epoch (seconds). It returns the hash of
// what it copied, computed from the bytes it copied, so a caller comparing
// it with the pinned LocalHash knows the layer is what was hashed. On error
// dest is emptied again and the error names the file.
func CopyLocal(dir string, include, exclude []string, dest string, epoch int64) (string, error) {
	fi, err := os.Stat(dest)
	if err != nil {
		return "", fmt.Errorf("copying local source %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("copying local source %s: destination %s is not a directory", dir, dest)
	}
	if names, err := os.ReadDir(dest); err != nil || len(names) > 0 {
		// Emptying dest on failure is only safe when all of it is ours.
		return "", fmt.Errorf("copying local source %s: destination %s must be an empty directory", dir, dest)
	}
	root, entries, err := localWalk(dir, include, exclude, nil)
	if err != nil {
		return "", err
	}
	defer root.Close()
	sum, err := localCopyEntries(root, entries, dest, epoch)
	if err != nil {
		localEmptyDir(dest)
		return "", err
	}
	return sum, nil
}

func localCopyEntries(root *os.File, entries []localEntry, dest string, epoch int64) (string, error) {
	// Root can give files away; anyone else leaves ownership to the layer
	// normalizer, which records 0:0 whatever the files on disk say.
	chown := os.Geteuid() == 0
	ts := []unix.Timespec{unix.NsecToTimespec(epoch * 1e9), unix.NsecToTimespec(epoch * 1e9)}
	d := newLocalDigest()
	var dirs []*localEntry
	for i := range entries {
		e := &entries[i]
		target := filepath.Join(dest, filepath.FromSlash(e.rel))
		switch {
		case e.mode.IsDir():
			// Written owner-only for now: the real mode may forbid writing
			// the children, so it is applied once they are in place.
			if err := os.Mkdir(target, 0o700); err != nil {
				return "", fmt.Errorf("copying %s: %w", e.abs, err)
			}
			if chown {
				if err := os.Lchown(target, 0, 0); err != nil {
					return "", fmt.Errorf("copying %s: %w", e.abs, err)
				}
			}
			dirs = append(dirs, e)
		case e.mode&fs.ModeSymlink != 0:
			if err := os.Symlink(e.target, target); err != nil {
				return "", fmt.Errorf("copying %s: %w", e.abs, err)
			}
			if chown {
				if err := os.Lchown(target, 0, 0); err != nil {
					return "", fmt.Errorf("copying %s: %w", e.abs, err)
				}
			}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return "", fmt.Errorf("copying %s: setting times: %w", e.abs, err)
			}
		default:
			if err := localCopyFile(root, e, target, chown, ts); err != nil {
				return "", err
			}
		}
		d.add(e)
	}
	// Children first, so that a parent's mode and time are set last.
	for i := len(dirs) - 1; i >= 0; i-- {
		e := dirs[i]
		target := filepath.Join(dest, filepath.FromSlash(e.rel))
		if err := unix.Chmod(target, unixmode.FromFileMode(e.mode)); err != nil {
			return "", fmt.Errorf("copying %s: setting mode: %w", e.abs, err)
		}
		if err := unix.UtimesNano(target, ts); err != nil {
			return "", fmt.Errorf("copying %s: setting times: %w", e.abs, err)
		}
	}
	if err := unix.UtimesNano(dest, ts); err != nil {
		return "", fmt.Errorf("setting times of %s: %w", dest, err)
	}
	return d.sum(), nil
}

func localCopyFile(root *os.File, e *localEntry, target string, chown bool, ts []unix.Timespec) error {
	src, err := openNoFollow(root, e.rel, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return fmt.Errorf("copying %s: %w", e.abs, err)
	}
	defer src.Close()
	dst, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copying %s: %w", e.abs, err)
	}
	defer dst.Close()
	sh := sha256.New()
	if _, err := io.Copy(io.MultiWriter(dst, sh), src); err != nil {
		return fmt.Errorf("copying %s: %w", e.abs, err)
	}
	var after unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &after); err != nil {
		return fmt.Errorf("copying %s: %w", e.abs, err)
	}
	if a, b := localRecordOf(&after), localRecordOf(&e.st); !a.sameFile(&b) {
		return fmt.Errorf("copying %s: the source tree changed during the build; run it again once the files are stable", e.abs)
	}
	copy(e.sum[:], sh.Sum(nil))
	fd := int(dst.Fd())
	// Ownership before mode: chown clears setuid and setgid.
	if chown {
		if err := unix.Fchown(fd, 0, 0); err != nil {
			return fmt.Errorf("copying %s: %w", e.abs, err)
		}
	}
	if err := unix.Fchmod(fd, unixmode.FromFileMode(e.mode)); err != nil {
		return fmt.Errorf("copying %s: setting mode: %w", e.abs, err)
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, 0); err != nil {
		return fmt.Errorf("copying %s: setting times: %w", e.abs, err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("copying %s: %w", e.abs, err)
	}
	return nil
}

// localEmptyDir removes what a failed copy left in dir, making read-only
// directories writable first so that a non-root caller can remove them.
func localEmptyDir(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != dir {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	names, _ := os.ReadDir(dir)
	for _, n := range names {
		_ = os.RemoveAll(filepath.Join(dir, n.Name()))
	}
}

// localFetcher copies a directory of the build folder, checking that it
// still hashes to the pin kiln computed when it planned the build.
type localFetcher struct{}

func (localFetcher) Fetch(ctx context.Context, req *Request) (Fetched, error) {
	tree, err := req.NewDir()
	if err != nil {
		return Fetched{}, err
	}
	dir, err := req.inFolder(req.Identifier)
	if err != nil {
		return Fetched{}, err
	}
	h, err := CopyLocal(dir, splitLines(req.Attrs["include"]), splitLines(req.Attrs["exclude"]), tree, req.Epoch)
	if err != nil {
		return Fetched{}, err
	}
	if h != req.Pin {
		return Fetched{}, fmt.Errorf("local source %s changed while kiln was building (hashed %s, copied %s); run the build again", req.Identifier, req.Pin, h)
	}
	return Fetched{Tree: tree}, nil
}

package source

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// localDirKeyPrefix versions the directory cache keys, as localStatKeyPrefix
// does the files'.
const localDirKeyPrefix = "local-dir-v1:"

// localDirRecordMax bounds a cached listing (some 25,000 entries): one
// write to the store's index must fit its batch limits, and in a
// directory that large the lstat of each file outweighs the listing.
const localDirRecordMax = 1 << 20

// localDirEnt is one name of a directory listing: its type as readdir gave
// it (d_type) and, for a symlink whose target was read, the target.
type localDirEnt struct {
	name      string
	typ       fs.FileMode
	target    string
	hasTarget bool
}

// localDirCache keeps directory listings in the stat cache. A directory's
// names and types, and its symlinks' targets, change only by creating,
// removing or renaming an entry (a symlink is never changed in place), and
// each of those moves the directory's mtime and ctime. So a listing
// recorded with the directory's stat fields is still the listing while
// those fields are the same and were not too recent when recorded (the
// racy window of the file cache applies alike). It spares a no-op rebuild
// the getdents and one readlinkat per symlink: 269 for a busybox root.
// What the entries hold is not cached here: files and directories are
// still lstat'ed, files through the file cache.
type localDirCache struct {
	cache StatCache // nil: list every directory
	start time.Time
	lh    *localHasher // counts listings, for tests
}

// localDirRecording is a listing read from disk, to be cached once the
// walk of the directory is done and has filled in the symlink targets.
type localDirRecording struct {
	stat localStatRecord
	bad  bool // the directory changed while it was walked
}

func (r *localDirRecording) unstable() {
	if r != nil {
		r.bad = true
	}
}

// list returns d's entries sorted by name, from the cache when d is
// unchanged, else read. A read listing comes with a recording for store.
func (dc *localDirCache) list(d *os.File, abs string) ([]localDirEnt, *localDirRecording, error) {
	var rec *localDirRecording
	if dc != nil && dc.cache != nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(d.Fd()), &st); err != nil {
			return nil, nil, fmt.Errorf("stat %s: %w", abs, err)
		}
		cur := localRecordOf(&st)
		v, ok, err := dc.cache.Get(localDirKeyPrefix + abs)
		if err != nil {
			return nil, nil, fmt.Errorf("reading stat cache for %s: %w", abs, err)
		}
		if ok {
			if old, ents, ok := decodeLocalDirRecord(v); ok && old.sameFile(&cur) && !old.racy() {
				return ents, nil, nil
			}
		}
		rec = &localDirRecording{stat: cur}
	}
	if dc != nil && dc.lh != nil {
		dc.lh.lists.Add(1)
	}
	des, err := d.ReadDir(-1)
	if err != nil {
		return nil, nil, fmt.Errorf("reading directory %s: %w", abs, err)
	}
	ents := make([]localDirEnt, len(des))
	for i, de := range des {
		ents[i] = localDirEnt{name: de.Name(), typ: de.Type()}
	}
	slices.SortFunc(ents, func(a, b localDirEnt) int { return strings.Compare(a.name, b.name) })
	return ents, rec, nil
}

// store caches the listing of a directory read by list, with the targets
// the walk read, unless the directory changed during the walk.
func (dc *localDirCache) store(rec *localDirRecording, abs string, ents []localDirEnt) error {
	if rec == nil || rec.bad {
		return nil
	}
	rec.stat.recorded = dc.start.UnixNano()
	v := encodeLocalDirRecord(&rec.stat, ents)
	if len(v) > localDirRecordMax {
		return nil // listed every time rather than strain the index
	}
	if err := dc.cache.Put(localDirKeyPrefix+abs, v); err != nil {
		return fmt.Errorf("writing stat cache for %s: %w", abs, err)
	}
	return nil
}

// encodeLocalDirRecord lays out the directory's stat record (its sum
// unused), the number of entries, then per entry the name, the type bits,
// whether the target is known and the target, strings length-prefixed.
func encodeLocalDirRecord(st *localStatRecord, ents []localDirEnt) []byte {
	n := localStatRecordLen + binary.MaxVarintLen64
	for i := range ents {
		n += len(ents[i].name) + len(ents[i].target) + 2*binary.MaxVarintLen64 + 5
	}
	b := make([]byte, 0, n)
	b = append(b, st.encode()...)
	b = binary.AppendUvarint(b, uint64(len(ents)))
	for i := range ents {
		e := &ents[i]
		b = binary.AppendUvarint(b, uint64(len(e.name)))
		b = append(b, e.name...)
		b = binary.BigEndian.AppendUint32(b, uint32(e.typ))
		if e.hasTarget {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(e.target)))
			b = append(b, e.target...)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// decodeLocalDirRecord reads what encodeLocalDirRecord wrote. Anything
// malformed, including a name a directory cannot hold or names out of
// order, is a miss: the walk opens entries by these names.
func decodeLocalDirRecord(b []byte) (localStatRecord, []localDirEnt, bool) {
	if len(b) < localStatRecordLen {
		return localStatRecord{}, nil, false
	}
	st, ok := decodeLocalStatRecord(b[:localStatRecordLen])
	if !ok {
		return st, nil, false
	}
	b = b[localStatRecordLen:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return st, nil, false
	}
	b = b[k:]
	ents := make([]localDirEnt, 0, count)
	for range count {
		var e localDirEnt
		if e.name, ok = str(); !ok || !localValidName(e.name) {
			return st, nil, false
		}
		if n := len(ents); n > 0 && ents[n-1].name >= e.name {
			return st, nil, false
		}
		if len(b) < 5 {
			return st, nil, false
		}
		e.typ = fs.FileMode(binary.BigEndian.Uint32(b)) & fs.ModeType
		has := b[4]
		b = b[5:]
		switch has {
		case 0:
		case 1:
			if e.target, ok = str(); !ok {
				return st, nil, false
			}
			e.hasTarget = e.typ == fs.ModeSymlink
		default:
			return st, nil, false
		}
		ents = append(ents, e)
	}
	if len(b) != 0 {
		return st, nil, false
	}
	return st, ents, true
}

func localValidName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

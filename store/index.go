package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Key prefixes of the index; see doc.go.
const (
	pOutput byte = 'o'
	pLayer  byte = 'l'
	pBlob   byte = 'b'
	pRoot   byte = 'r'
	pMeta   byte = 'm'
)

const outputVersion = 1

// raw returns the 32 sha256 bytes of d, refusing anything else: every
// object and derivation in kiln is named by sha256. It is on the path of
// every look-up, so it checks by hand rather than with go-digest's regexp.
func raw(d digest.Digest) ([32]byte, error) {
	var r [32]byte
	enc, ok := strings.CutPrefix(string(d), "sha256:")
	if !ok {
		return r, fmt.Errorf("digest %q: not a sha256 digest", string(d))
	}
	if !validHex(enc) {
		return r, fmt.Errorf("digest %q: invalid sha256 (want 64 lowercase hex digits)", string(d))
	}
	_, _ = hex.Decode(r[:], []byte(enc))
	return r, nil
}

func key(prefix byte, d digest.Digest) ([]byte, error) {
	r, err := raw(d)
	if err != nil {
		return nil, err
	}
	return append([]byte{prefix}, r[:]...), nil
}

func fromRaw(b []byte) digest.Digest {
	var buf [7 + 64]byte
	copy(buf[:], "sha256:")
	hex.Encode(buf[7:], b)
	return digest.Digest(buf[:])
}

// validHex reports whether name is the lowercase hex of a sha256, which is
// how objects are named on disk.
func validHex(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, c := range []byte(name) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

var errCorrupt = errors.New("corrupt index value")

// Values start with the last-use time so that touching rewrites one prefix.
func lastUse(v []byte) time.Time {
	if len(v) < 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v)))
}

func withUse(v []byte, t time.Time) []byte {
	out := make([]byte, len(v))
	copy(out, v)
	if len(out) >= 8 {
		binary.BigEndian.PutUint64(out, uint64(t.UnixNano()))
	}
	return out
}

// putUse sets the last-use prefix of v in place.
func putUse(v []byte, unixNano int64) {
	binary.BigEndian.PutUint64(v, uint64(unixNano))
}

func header(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 64), uint64(t.UnixNano()))
}

// objectMeta is the value of a layer or blob entry.
type objectMeta struct {
	used  time.Time
	size  int64
	files int64
}

func encodeObject(m objectMeta) []byte {
	b := header(m.used)
	b = binary.AppendVarint(b, m.size)
	return binary.AppendVarint(b, m.files)
}

func decodeObject(v []byte) (objectMeta, error) {
	if len(v) < 8 {
		return objectMeta{}, errCorrupt
	}
	m := objectMeta{used: lastUse(v)}
	r := reader{b: v[8:]}
	m.size = r.varint()
	m.files = r.varint()
	if r.err != nil {
		return objectMeta{}, r.err
	}
	return m, nil
}

// record is the value of an output entry.
type record struct {
	used time.Time
	out  Output
	refs []digest.Digest
}

func encodeRecord(rec record) ([]byte, error) {
	b := header(rec.used)
	b = append(b, outputVersion)
	digests := func(ds []digest.Digest) error {
		b = binary.AppendUvarint(b, uint64(len(ds)))
		for _, d := range ds {
			r, err := raw(d)
			if err != nil {
				return err
			}
			b = append(b, r[:]...)
		}
		return nil
	}
	if err := digests(rec.out.Layers); err != nil {
		return nil, err
	}
	if err := digests(rec.out.Blobs); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(rec.out.Meta))
	for k := range rec.out.Meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, rec.out.Meta[k])
	}
	var built int64
	if !rec.out.Built.IsZero() {
		built = rec.out.Built.UnixNano()
	}
	b = binary.AppendVarint(b, built)
	b = binary.AppendVarint(b, rec.out.DurationMS)
	if err := digests(rec.refs); err != nil {
		return nil, err
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func decodeRecord(v []byte, intern map[[32]byte]digest.Digest) (record, error) {
	if len(v) < 9 || v[8] != outputVersion {
		return record{}, errCorrupt
	}
	rec := record{used: lastUse(v)}
	r := reader{b: v[9:], intern: intern}
	rec.out.Layers = r.digests()
	rec.out.Blobs = r.digests()
	if n := r.uvarint(); n > 0 && r.err == nil {
		if n > uint64(len(r.b)) {
			return record{}, errCorrupt
		}
		rec.out.Meta = make(map[string]string, n)
		for range n {
			k := r.string()
			rec.out.Meta[k] = r.string()
		}
	}
	if built := r.varint(); built != 0 {
		rec.out.Built = time.Unix(0, built)
	}
	rec.out.DurationMS = r.varint()
	rec.refs = r.digests()
	if r.err != nil {
		return record{}, r.err
	}
	return rec, nil
}

// reader decodes index values, remembering the first error so that callers
// check once.
type reader struct {
	b   []byte
	err error
	// intern, when set, shares the strings of digests that many records
	// name (base layers), which makes LookupMany allocate far less.
	intern map[[32]byte]digest.Digest
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string { return string(r.bytes(r.uvarint())) }

func (r *reader) digests() []digest.Digest {
	n := r.uvarint()
	if r.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(r.b))/32 {
		r.err = errCorrupt
		return nil
	}
	ds := make([]digest.Digest, n)
	for i := range ds {
		b := r.bytes(32)
		if r.intern == nil {
			ds[i] = fromRaw(b)
			continue
		}
		k := [32]byte(b)
		d, ok := r.intern[k]
		if !ok {
			d = fromRaw(b)
			r.intern[k] = d
		}
		ds[i] = d
	}
	return ds
}

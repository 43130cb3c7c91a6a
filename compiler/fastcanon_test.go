package compiler

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"
)

// field is a struct field reachable from a Derivation, settable in place.
type field struct {
	path string
	v    reflect.Value
	// hashed is false under a json:"-" tag: the field never reaches the
	// encoding.
	hashed bool
}

// fill sets everything reachable from v to a non-zero value, so that a
// field the fast encoder forgets shows up as a difference, and collects
// the struct fields on the way. A kind it does not know fails the test
// rather than being left zero, where a forgotten field would go unseen:
// teach fill (and appendDerivation) the kind first.
func fill(t *testing.T, v reflect.Value, path string, hashed bool, n *int, fields *[]field) {
	t.Helper()
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("v\"\\\n\x01<é" + string(rune('a'+*n%26)))
	case reflect.Int, reflect.Int64:
		// Negative too: -1 means scratch for Root and Base.
		if *n%2 == 1 {
			v.SetInt(-int64(*n))
		} else {
			v.SetInt(int64(*n))
		}
	case reflect.Uint32:
		v.SetUint(uint64(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Ptr:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path, hashed, n, fields)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			p := path + "." + sf.Name
			if p == "Derivation.at" {
				// The graph's bookkeeping (the node's position), not
				// part of the derivation: never encoded or hashed.
				continue
			}
			if !sf.IsExported() {
				t.Fatalf("%s is unexported: encoding/json skips it, so the oracle cannot check it", p)
			}
			h := hashed && sf.Tag.Get("json") != "-"
			*fields = append(*fields, field{path: p, v: v.Field(i), hashed: h})
			fill(t, v.Field(i), p, h, n, fields)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(t, s.Index(i), path+"[]", hashed, n, fields)
		}
		v.Set(s)
	case reflect.Map:
		// Map entries are copies, not addressable: their struct fields,
		// if any, could not be varied one by one below.
		if k := v.Type().Elem().Kind(); k == reflect.Struct || k == reflect.Ptr {
			t.Fatalf("%s is a map of %s: teach fill to vary its entries' fields", path, v.Type().Elem())
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 3; i++ {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(t, k, path+"{key}", hashed, n, fields)
			fill(t, e, path+"{}", hashed, n, fields)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		t.Fatalf("%s is a %s, a kind fill does not know: teach fill and appendDerivation to encode it (the format has integers, strings, bools, lists and objects only)", path, v.Type())
	}
}

// fullDerivation returns a Derivation with every field set, and its
// fields.
func fullDerivation(t *testing.T) (*Derivation, []field) {
	t.Helper()
	d := new(Derivation)
	var fields []field
	n := 0
	fill(t, reflect.ValueOf(d).Elem(), "Derivation", true, &n, &fields)
	d.Inputs = []digest.Digest{"sha256:a", "sha256:b"}
	return d, fields
}

func sameAsOracle(t *testing.T, name string, d *Derivation) {
	t.Helper()
	want, err := reflectCanonical(d)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got := appendDerivation(nil, d)
	if string(got) == string(want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-60)
	t.Errorf("%s: the encodings differ at byte %d:\nfast   ...%s\noracle ...%s", name, i, got[from:min(len(got), i+60)], want[from:min(len(want), i+60)])
}

func TestFastCanonicalMatches(t *testing.T) {
	full, fields := fullDerivation(t)
	sameAsOracle(t, "every field", full)
	for name, d := range map[string]*Derivation{
		"zero": {},
		"empty slices": {Kind: KindExec, Exec: &ExecOp{Args: []string{}, Env: []string{}}, File: &FileOp{Actions: []FileAction{}},
			Source: &SourceOp{Attrs: map[string]string{}}},
		"zero mount and action": {Exec: &ExecOp{Mounts: []Mount{{}}}, File: &FileOp{Actions: []FileAction{{}}}},
	} {
		sameAsOracle(t, name, d)
	}
	// Each field empty with all others set: an omitempty rule or a comma
	// that depends on a neighbour shows up here.
	for _, f := range fields {
		saved := reflect.New(f.v.Type()).Elem()
		saved.Set(f.v)
		f.v.SetZero()
		sameAsOracle(t, f.path+" empty", full)
		f.v.Set(saved)
	}
}

// TestPlain8 checks the word-at-a-time test against the byte test for
// every byte value at every position, on plain and on high backgrounds.
func TestPlain8(t *testing.T) {
	escaped := func(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }
	for _, bg := range []byte{'a', 0x20, 0x7f, 0x80, 0xff, '#', ']'} {
		for pos := 0; pos < 8; pos++ {
			for c := 0; c < 256; c++ {
				w := []byte{bg, bg, bg, bg, bg, bg, bg, bg}
				w[pos] = byte(c)
				if got, want := plain8(string(w)), !escaped(byte(c)); got != want {
					t.Fatalf("plain8(%q) = %v, want %v", w, got, want)
				}
			}
		}
	}
}

// TestAppendStringLong checks appendString on strings long enough for
// its word-at-a-time path against encoding/json's escapes of the same
// bytes.
func TestAppendStringLong(t *testing.T) {
	for _, s := range []string{
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"PATH=/usr/local/sbin:/usr/local/bin", "0123456\"89abcdef", "01234567\\9abcdef\n",
		"abcdefgh\x01", "\x1fabcdefghijklmnop", "héllo wörld, ça va? \t ok", "ends with quote \"",
	} {
		got := string(appendString(nil, s))
		want := `"` + referenceEscape(s) + `"`
		if got != want {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func referenceEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\b':
			b = append(b, `\b`...)
		case c == '\f':
			b = append(b, `\f`...)
		case c < 0x20:
			b = append(b, fmt.Sprintf(`\u%04x`, c)...)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

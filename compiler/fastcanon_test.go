package compiler

import (
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"
)

// fill sets every field reachable from v to a non-zero value, so that a
// field the fast encoder forgets shows up as a difference.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("v\"\\\n\x01<é" + string(rune('a'+*n%26)))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint32:
		v.SetUint(uint64(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Ptr:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i), n)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 3; i++ {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, n)
			fill(e, n)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	}
}

func TestFastCanonicalMatches(t *testing.T) {
	var full Derivation
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n)
	full.Inputs = []digest.Digest{"sha256:a", "sha256:b"}
	cases := map[string]*Derivation{
		"every field": &full,
		"zero":        {},
		"empty slices": {Kind: KindExec, Exec: &ExecOp{Args: []string{}, Env: []string{}}, File: &FileOp{Actions: []FileAction{}},
			Source: &SourceOp{Attrs: map[string]string{}}},
		"zero mount and action": {Exec: &ExecOp{Mounts: []Mount{{}}}, File: &FileOp{Actions: []FileAction{{}}}},
	}
	for name, d := range cases {
		want, err := Canonical(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendDerivation(nil, d); string(got) != string(want) {
			t.Errorf("%s:\nfast    %s\ngeneric %s", name, got, want)
		}
	}
}

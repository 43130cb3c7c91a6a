package compiler

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestCanonicalSortsKeysAndKeepsBytes(t *testing.T) {
	v := map[string]any{
		"b": "<tag> & \u2028 é \x01",
		"a": []any{1, "x\n"},
		"c": map[string]any{"z": true, "y": nil},
	}
	got, err := reflectCanonical(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[1,"x\n"],"b":"<tag> & ` + "\u2028 é " + `\u0001","c":{"y":null,"z":true}}`
	if string(got) != want {
		t.Fatalf("Canonical:\n got %s\nwant %s", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("canonical output is not JSON: %v", err)
	}
}

func TestCanonicalRejectsFloats(t *testing.T) {
	if _, err := reflectCanonical(map[string]any{"f": 1.5}); err == nil {
		t.Fatal("a float must be rejected: it has no single canonical spelling")
	}
}

func TestDerivationRejectsInvalidUTF8(t *testing.T) {
	d := &Derivation{Kind: KindExec, Exec: &ExecOp{Args: []string{"echo", "\xff"}}}
	if _, err := d.Digest(); err == nil {
		t.Fatal("invalid UTF-8 must be an error, not a silent U+FFFD")
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add(`{"b":1,"a":[true,null,"x"]}`)
	f.Add(`"\u2028<>&"`)
	f.Add(`[{"z":{"y":{"x":[]}}}]`)
	f.Fuzz(func(t *testing.T, in string) {
		var v any
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			return
		}
		a, err := reflectCanonical(v)
		if err != nil {
			return // floats
		}
		// Canonical form is a fixed point: decoding and re-encoding it
		// gives the same bytes.
		var w any
		if err := json.Unmarshal(a, &w); err != nil {
			t.Fatalf("canonical output %q is not JSON: %v", a, err)
		}
		b, err := reflectCanonical(w)
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Fatalf("not a fixed point:\n%s\n%s", a, b)
		}
	})
}

// TestDigestRejectsInvalidUTF8Everywhere checks docs/derivations.md's
// promise that a hashed string that is not valid UTF-8 is an error, never
// encoded raw (kiln show would print something that is not JSON), and
// that the error names the field.
func TestDigestRejectsInvalidUTF8Everywhere(t *testing.T) {
	d, fields := fullDerivation(t)
	if _, err := d.Digest(); err != nil {
		t.Fatal(err)
	}
	const bad = "ok\xff"
	checked := 0
	for _, f := range fields {
		if !f.hashed {
			continue
		}
		variants := invalidStrings(t, f.path, f.v.Type(), bad)
		saved := reflect.New(f.v.Type()).Elem()
		saved.Set(f.v)
		for _, v := range variants {
			f.v.Set(v)
			if _, err := d.Digest(); err == nil || err == errNoStringNamed {
				t.Errorf("%s = %q: %v, want an error that names the field", f.path, v, err)
			}
			checked++
		}
		f.v.Set(saved)
	}
	if checked < 30 {
		t.Fatalf("only %d strings varied: the walk is broken", checked)
	}
}

// invalidStrings returns values of typ that hold bad as a string, one per
// place a string can be in it. Struct fields inside typ are varied as
// fields of their own.
func invalidStrings(t *testing.T, path string, typ reflect.Type, bad string) []reflect.Value {
	t.Helper()
	str := func(typ reflect.Type, s string) reflect.Value { return reflect.ValueOf(s).Convert(typ) }
	switch typ.Kind() {
	case reflect.String:
		return []reflect.Value{str(typ, bad)}
	case reflect.Slice:
		switch typ.Elem().Kind() {
		case reflect.String:
			s := reflect.MakeSlice(typ, 1, 1)
			s.Index(0).Set(str(typ.Elem(), bad))
			return []reflect.Value{s}
		case reflect.Struct, reflect.Ptr:
			return nil
		}
	case reflect.Map:
		if typ.Key().Kind() == reflect.String && typ.Elem().Kind() == reflect.String {
			var vs []reflect.Value
			for _, kv := range [][2]string{{bad, "v"}, {"k", bad}} {
				m := reflect.MakeMap(typ)
				m.SetMapIndex(str(typ.Key(), kv[0]), str(typ.Elem(), kv[1]))
				vs = append(vs, m)
			}
			return vs
		}
	case reflect.Struct, reflect.Ptr, reflect.Bool, reflect.Int, reflect.Int64, reflect.Uint32:
		return nil
	}
	t.Fatalf("%s is a %s: teach this test where its strings are", path, typ)
	return nil
}

// FuzzAppendString holds the encoder's string escaping to the oracle's
// for any string: only '"', '\\' and control characters escaped, every
// other byte as it is.
func FuzzAppendString(f *testing.F) {
	f.Add("v\"\\\n\x01<é\u2028\x7f\t\r\b\f&>")
	f.Add("\xff\xc3")
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		writeString(&want, s)
		if got := appendString(nil, s); string(got) != want.String() {
			t.Fatalf("%q:\nencoder %s\noracle  %s", s, got, want.Bytes())
		}
	})
}

package compiler

import (
	"encoding/json"
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

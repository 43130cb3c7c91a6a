package jsondoc

import "testing"

func TestMarshal(t *testing.T) {
	got, err := Marshal(struct {
		B string            `json:"b"`
		A map[string]string `json:"a"`
	}{B: "<&>", A: map[string]string{"z": "1", "y": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	// Declaration order, sorted keys, no HTML escaping, no newline.
	if want := `{"b":"<&>","a":{"y":"2","z":"1"}}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if _, err := Marshal(func() {}); err == nil {
		t.Fatal("a func encoded without an error")
	}
}

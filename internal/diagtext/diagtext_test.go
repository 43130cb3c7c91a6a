package diagtext

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestLines(t *testing.T) {
	r := &hcl.Range{Filename: "build.lock.hcl", Start: hcl.Pos{Line: 3, Column: 5}}
	got := Lines(hcl.Diagnostics{
		{Summary: "Bad pin", Detail: "want sha256", Subject: r},
		{Summary: "No subject"},
	})
	want := "build.lock.hcl:3:5: Bad pin: want sha256\nNo subject"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

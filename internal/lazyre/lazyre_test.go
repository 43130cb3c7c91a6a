package lazyre

import (
	"sync"
	"testing"
)

func TestCompiledOnFirstUse(t *testing.T) {
	r := New(`^(\d+)(?::(\d+))?$`)
	if r.re != nil {
		t.Fatal("compiled before first use")
	}
	if !r.MatchString("1:2") || r.MatchString("x") {
		t.Fatal("wrong matches")
	}
	if m := r.FindStringSubmatch("10:20"); len(m) != 3 || m[1] != "10" || m[2] != "20" {
		t.Fatalf("FindStringSubmatch = %q", m)
	}
	if m := r.FindSubmatch([]byte("7")); len(m) != 3 || string(m[1]) != "7" {
		t.Fatalf("FindSubmatch = %q", m)
	}
	if got := New(`a+`).ReplaceAllStringFunc("baab", func(string) string { return "-" }); got != "b-b" {
		t.Fatalf("ReplaceAllStringFunc = %q", got)
	}
	if r.String() != `^(\d+)(?::(\d+))?$` {
		t.Fatalf("String = %q", r.String())
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	r := New(`^[0-9a-f]{64}$`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if r.MatchString("nope") {
				t.Error("matched")
			}
		})
	}
	wg.Wait()
}

func TestBadPatternPanicsOnUse(t *testing.T) {
	r := New(`(`)
	defer func() {
		if recover() == nil {
			t.Fatal("a bad pattern did not panic on use")
		}
	}()
	r.MatchString("x")
}

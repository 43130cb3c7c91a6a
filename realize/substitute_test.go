package realize

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/store"
)

// fakeSubst "fetches" a derivation by building it in a store of its own
// (the other machine) and copying its layers, and records what it was
// asked.
type fakeSubst struct {
	g      *compiler.Graph
	origin *store.Store
	has    map[digest.Digest]bool
	fails  map[digest.Digest]bool

	mu      sync.Mutex
	fetched []digest.Digest
}

func (f *fakeSubst) Has(_ context.Context, key digest.Digest) bool { return f.has[key] }

func (f *fakeSubst) Substitute(ctx context.Context, st *store.Store, key digest.Digest) (store.Output, bool) {
	f.mu.Lock()
	f.fetched = append(f.fetched, key)
	f.mu.Unlock()
	if f.fails[key] {
		return store.Output{}, false
	}
	outs, err := New(f.origin, Options{}).Realize(ctx, f.g, []digest.Digest{key})
	if err != nil {
		return store.Output{}, false
	}
	out := outs[key]
	for _, l := range out.Layers {
		tmp, err := st.TempDir("fake-")
		if err != nil {
			return store.Output{}, false
		}
		if err := os.CopyFS(tmp, os.DirFS(f.origin.LayerPath(l))); err != nil {
			return store.Output{}, false
		}
		if err := st.AddLayer(tmp, l, store.LayerInfo{}); err != nil {
			return store.Output{}, false
		}
	}
	return out, true
}

func TestSubstituteOnlyWhatIsNeeded(t *testing.T) {
	tg := newTestGraph(t)
	a := tg.fileStep("a", "", mkfile("/a"))
	b := tg.fileStep("b", a, mkfile("/b"))
	c := tg.fileStep("c", b, mkfile("/c"))
	st := openStore(t)
	f := &fakeSubst{g: tg.g, origin: openStore(t), has: map[digest.Digest]bool{a: true, b: true, c: true}}
	var ev events
	outs, err := New(st, Options{Events: ev.record, Substituter: f}).Realize(context.Background(), tg.g, []digest.Digest{c})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.fetched, []digest.Digest{c}) {
		t.Errorf("fetched %v, want only the root", f.fetched)
	}
	if got := ev.of(EventSubstituted); !slices.Equal(got, []string{"c"}) || len(ev.of(EventStart)) != 0 {
		t.Errorf("substituted %v, started %v", got, ev.of(EventStart))
	}
	rec, ok, _ := st.Lookup(c)
	if !ok || rec.Meta[MetaOrigin] != "remote" || OutputID(rec) != OutputID(outs[c]) {
		t.Errorf("recorded %+v %v", rec, ok)
	}
}

func TestSubstituteFailureBuildsInstead(t *testing.T) {
	tg := newTestGraph(t)
	a := tg.fileStep("a", "", mkfile("/a"))
	b := tg.fileStep("b", a, mkfile("/b"))
	c := tg.fileStep("c", b, mkfile("/c"))
	st := openStore(t)
	f := &fakeSubst{g: tg.g, origin: openStore(t), has: map[digest.Digest]bool{b: true, c: true}, fails: map[digest.Digest]bool{c: true}}
	var ev events
	if _, err := New(st, Options{Jobs: 1, Events: ev.record, Substituter: f}).Realize(context.Background(), tg.g, []digest.Digest{c}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.fetched, []digest.Digest{c, b}) {
		t.Errorf("fetched %v, want c (failing), then its input b", f.fetched)
	}
	if got := ev.of(EventDone); !slices.Equal(got, []string{"c"}) {
		t.Errorf("built %v, want only c", got)
	}
	if _, ok, _ := st.Lookup(c); !ok {
		t.Error("c was not recorded")
	}
}

func TestRebuildIgnoresSubstituter(t *testing.T) {
	tg := newTestGraph(t)
	a := tg.fileStep("a", "", mkfile("/a"))
	st := openStore(t)
	f := &fakeSubst{g: tg.g, origin: openStore(t), has: map[digest.Digest]bool{a: true}}
	if _, err := New(st, Options{Substituter: f, Rebuild: map[digest.Digest]bool{a: true}}).Realize(context.Background(), tg.g, []digest.Digest{a}); err != nil {
		t.Fatal(err)
	}
	if len(f.fetched) != 0 {
		t.Errorf("a rebuild for comparison fetched %v", f.fetched)
	}
}

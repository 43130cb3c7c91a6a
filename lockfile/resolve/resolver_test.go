package resolve

import (
	"testing"

	"github.com/kiln-build/kiln/lang"
	"github.com/kiln-build/kiln/lockfile"
)

// A locked source type without a resolver would fail only when `kiln lock`
// meets it.
func TestEveryLockedTypeResolves(t *testing.T) {
	for _, typ := range lang.SourceTypes() {
		if lockfile.Locked(typ) && kinds[typ] == nil {
			t.Errorf("source type %q is locked but has no resolver: write its Resolver in its own file and register it in kinds (resolver.go)", typ)
		}
	}
}

package lockfile

import (
	"testing"

	"github.com/kiln-build/kiln/lang"
)

// Every source type but local (hashed at build time) is pinned by the lock.
func TestEverySourceTypeIsLocked(t *testing.T) {
	for _, typ := range lang.SourceTypes() {
		if typ == "local" {
			if Locked(typ) {
				t.Errorf("local sources must not be locked")
			}
			continue
		}
		if !Locked(typ) {
			t.Errorf("source type %q has no lock entry: write its kind in its own kind_TYPE.go and register it in kinds (kind.go)", typ)
		}
	}
	for typ, k := range kinds {
		if len(k.attrs()) == 0 {
			t.Errorf("kind %q has no attributes", typ)
		}
	}
}

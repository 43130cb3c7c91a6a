package compiler

import (
	"testing"

	"github.com/kiln-build/kiln/lang"
)

// A source type lang accepts but the compiler cannot lower would fail only
// when a build uses it.
func TestEverySourceTypeLowers(t *testing.T) {
	for _, typ := range lang.SourceTypes() {
		if sourceKinds[typ] == nil {
			t.Errorf("source type %q has no lowering: write its lowering in its own source_TYPE.go and register it in sourceKinds (source.go)", typ)
		}
	}
}

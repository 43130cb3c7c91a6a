package lang_test

import (
	"reflect"
	"testing"

	"github.com/kiln-build/kiln/lang"
)

// TestOptionsHoldOnlyInputs checks that Options, the public input of a
// load, carries nothing a caller cannot set: switches for tests belong on
// the Loader, out of the API.
func TestOptionsHoldOnlyInputs(t *testing.T) {
	typ := reflect.TypeOf(lang.Options{})
	for i := range typ.NumField() {
		if f := typ.Field(i); !f.IsExported() {
			t.Errorf("lang.Options has the unexported field %s; put it on the Loader", f.Name)
		}
	}
}

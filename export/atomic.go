package export

import (
	"errors"
	"fmt"

	"github.com/kiln-build/kiln/internal/atomicfile"
)

// ErrExists is returned (wrapped) when an output's destination exists and
// the spec does not say force=true.
var ErrExists = atomicfile.ErrExists

// atomically writes an output through atomicfile.Publish: dest is left as
// it was on any error, and replaced only when the spec says force=true.
func atomically(dest string, force bool, write func(tmp string) error) error {
	err := atomicfile.Publish(dest, force, write)
	if errors.Is(err, ErrExists) {
		return fmt.Errorf("%w; remove it or add force=true to the output spec", err)
	}
	return err
}

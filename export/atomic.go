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
// it was on any error, replaced only when the spec says force=true and
// flushed to disk before it takes its name only when it says sync=true.
func atomically(o Output, write func(tmp string) error) error {
	err := atomicfile.Publish(o.Dest, o.Force, o.Sync, write)
	if errors.Is(err, ErrExists) {
		return fmt.Errorf("%w; remove it or add force=true to the output spec", err)
	}
	return err
}

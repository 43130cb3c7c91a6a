package source

import "errors"

// pinError marks a failure whose likely cause is the lock: the digest,
// commit or hash it pins is well formed but the source does not hold it
// (any more). The caller knows the lock entry and says which one to update.
type pinError struct{ err error }

func (e *pinError) Error() string { return e.err.Error() }
func (e *pinError) Unwrap() error { return e.err }

func pinErr(err error) error { return &pinError{err} }

// IsPinError reports whether err says that pinned content is not where the
// lock says it is, so that re-resolving the lock entry is the likely fix.
func IsPinError(err error) bool {
	var p *pinError
	var m *MismatchError
	return errors.As(err, &p) || errors.As(err, &m)
}

// errNotFound is matched (errors.Is) by an ociBlobs source's error when it
// does not have the digest asked for, as opposed to failing to answer.
var errNotFound = errors.New("not found")

// notFound marks err as errNotFound without changing its message.
type notFound struct{ error }

func (e notFound) Unwrap() error      { return e.error }
func (notFound) Is(target error) bool { return target == errNotFound }

package source

import (
	"fmt"
	"io"
)

// DefaultMaxSize bounds what one source may unpack when its block sets no
// max_size: far above a Debian root filesystem or a common base image, and
// well below the disk of a CI machine, so that a decompression bomb or a
// runaway download fails instead of filling the store's filesystem.
const DefaultMaxSize int64 = 8 << 30

// SizeLimitError is a source that unpacks to more than its limit.
type SizeLimitError struct {
	Limit int64
}

func (e *SizeLimitError) Error() string {
	return fmt.Sprintf("the source is larger than its size limit of %s (max_size); nothing was stored. If it really is this large, raise the limit in its source block, for example max_size = %q", FormatSize(e.Limit), FormatSize(2*e.Limit))
}

// FormatSize writes n bytes the way max_size reads them back.
func FormatSize(n int64) string {
	for _, u := range []struct {
		shift uint
		unit  string
	}{{40, "t"}, {30, "g"}, {20, "m"}, {10, "k"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.unit)
		}
	}
	return fmt.Sprint(n)
}

// sizeBudget counts the bytes a source unpacks across all its streams
// (every layer of an image, every package of a deb source).
type sizeBudget struct {
	limit, used int64
}

func newSizeBudget(limit int64) *sizeBudget {
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	return &sizeBudget{limit: limit}
}

// reader counts what is read through r against the budget and fails with
// a *SizeLimitError at the first byte beyond it, so no more than the limit
// is ever written out.
func (b *sizeBudget) reader(r io.Reader) io.Reader { return &budgetReader{r: r, b: b} }

type budgetReader struct {
	r io.Reader
	b *sizeBudget
}

func (br *budgetReader) Read(p []byte) (int, error) {
	left := br.b.limit - br.b.used
	if left < 0 {
		return 0, &SizeLimitError{Limit: br.b.limit}
	}
	if int64(len(p)) > left+1 {
		p = p[:left+1]
	}
	n, err := br.r.Read(p)
	br.b.used += int64(n)
	if br.b.used > br.b.limit {
		return n - int(br.b.used-br.b.limit), &SizeLimitError{Limit: br.b.limit}
	}
	return n, err
}

package compress

// SetWorkers fixes the encoders' worker count (0: adapt to free cores) and
// returns a function restoring the previous setting.
func SetWorkers(n int) (restore func()) {
	prev := forceWorkers
	forceWorkers = n
	return func() { forceWorkers = prev }
}

// FreeOf exposes freeOf.
var FreeOf = freeOf

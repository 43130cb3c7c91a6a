package export

import "testing"

// FuzzParseOutput: an --output value is an Output or an error, never a
// panic.
func FuzzParseOutput(f *testing.F) {
	for _, s := range []string{
		"type=oci,dest=out.oci,name=app:1", "type=docker,dest=-", "type=registry,name=127.0.0.1:5000/a:b,push=true",
		"type=local,dest=out", "type=tar,dest=-", "type=oci,compression=zstd,compression-level=3,force-compression=true",
		"type=oci,dest=a,annotation.x=y", "dest", "type=", ",,", "type=oci,dest=\"a,b\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		_, _ = ParseOutput(v)
	})
}

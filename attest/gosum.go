package attest

import (
	"fmt"
	"sort"
	"strings"
)

// GoModule is one module a go.sum lists: path, version and the h1: hash
// of its zip.
type GoModule struct {
	Path, Version, Hash string
}

// ParseGoSum reads a go.sum: one module per "PATH VERSION h1:HASH" line,
// the "/go.mod" lines (hashes of go.mod files only, not of modules that
// were fetched) left out. The result is sorted by path and version.
func ParseGoSum(b []byte) ([]GoModule, error) {
	var out []GoModule
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || !strings.HasPrefix(f[2], "h1:") {
			return nil, fmt.Errorf("go.sum line %d: %q is not PATH VERSION h1:HASH", i+1, line)
		}
		if strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		out = append(out, GoModule{Path: f[0], Version: f[1], Hash: f[2]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

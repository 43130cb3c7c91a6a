package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kiln-build/kiln/internal/rootless"
)

// sealCopyWarning says why every step would copy kiln's whole binary, or
// "" when none does. libcontainer runs kiln as each container's init from
// a sealed view of its binary, so that no container can overwrite it
// (CVE-2019-5736). As root that view is a read-only overlay whose lower
// layers are the binary's directory and the step's libcontainer state
// directory, under stateRoot; overlayfs refuses layers that contain each
// other (ELOOP), and libcontainer then copies the binary (tens of
// megabytes) into a sealed memfd for every step instead, a third of the
// CPU kiln spends on a short step. The overlap happens when the store lies
// in the binary's directory, such as a kiln built at the top of a home
// directory with the store in it.
func sealCopyWarning(exe, stateRoot string) string {
	if rootless.InUserNS() {
		// No overlay for the seal in a user namespace: libcontainer
		// always copies there, wherever the store is.
		return ""
	}
	real, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return ""
	}
	bin := filepath.Dir(real)
	root, err := filepath.EvalSymlinks(stateRoot)
	if err != nil {
		return ""
	}
	if !within(root, bin) && !within(bin, root) {
		return ""
	}
	return fmt.Sprintf("kiln's binary is in %s, which holds the store's sandbox directory %s: overlayfs cannot seal the binary for the steps' init there, so every step copies all of it (slower steps); move the binary (or the store, with --store) out of the other's tree", bin, root)
}

// within says whether p is dir or inside it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// warnSealCopy gives sealCopyWarning's warning, if any, to warn.
func warnSealCopy(stateRoot string, warn func(string)) {
	if warn == nil {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	if msg := sealCopyWarning(exe, stateRoot); msg != "" {
		warn(msg)
	}
}

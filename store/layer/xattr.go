package layer

import (
	"bytes"
	"errors"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/rootless"
)

// opaqueXattr marks an overlay directory that hides what lower layers
// hold at the same path: trusted.overlay.opaque, or user.overlay.opaque in
// a user namespace (a rootless kiln), where overlayfs is mounted with
// userxattr because trusted.* needs CAP_SYS_ADMIN on the host. A store is
// used either by root or by one user (store.Open refuses others), so its
// layers carry one of the two, the one its overlays read. It is decided
// on first use, not in package initialisation: reading uid_map there cost
// every kiln command, a no-op rebuild included, which never needs it.
var opaqueXattr = sync.OnceValue(func() string { return overlayXattrPrefix() + "opaque" })

func overlayXattrPrefix() string {
	if rootless.InUserNS() {
		return "user.overlay."
	}
	return "trusted.overlay."
}

const (
	// WhiteoutPrefix names an OCI whiteout entry: .wh.X hides X.
	WhiteoutPrefix = ".wh."
	// OpaqueWhiteout is the OCI entry that makes its directory opaque.
	OpaqueWhiteout = ".wh..wh..opq"
)

// AllowedXattr reports whether an extended attribute belongs in a layer.
// The list and its reasons are in the package documentation; changing it
// changes layer digests.
func AllowedXattr(name string) bool {
	switch {
	case strings.HasPrefix(name, "user.overlay."):
		return false
	case strings.HasPrefix(name, "user."):
		return true
	case name == "security.capability",
		name == "system.posix_acl_access",
		name == "system.posix_acl_default":
		return true
	}
	return false
}

// listXattrs returns the names of path's extended attributes, sorted, not
// following a final symlink.
func listXattrs(path string) ([]string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			sz, err := unix.Llistxattr(path, nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, sz+64)
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, b := range bytes.Split(buf[:n], []byte{0}) {
			if len(b) > 0 {
				names = append(names, string(b))
			}
		}
		sort.Strings(names)
		return names, nil
	}
}

// getXattr reads one attribute, not following a final symlink.
func getXattr(path, name string) ([]byte, error) {
	buf := make([]byte, 128)
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			sz, err := unix.Lgetxattr(path, name, nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, sz+64)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// isOpaque reports whether dir carries opaqueXattr=y.
func isOpaque(dir string) (bool, error) {
	v, err := getXattr(dir, opaqueXattr())
	if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return string(v) == "y", nil
}

// allowedXattrs returns path's allow-listed attributes.
func allowedXattrs(path string) (map[string][]byte, error) {
	names, err := listXattrs(path)
	if err != nil {
		return nil, err
	}
	var out map[string][]byte
	for _, n := range names {
		if !AllowedXattr(n) {
			continue
		}
		v, err := getXattr(path, n)
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string][]byte{}
		}
		out[n] = v
	}
	return out, nil
}

// OpaqueXattr is the xattr that marks an opaque directory in this store's
// layers (see opaqueXattr), for code that writes upper directories itself
// (the sandbox's copy snapshotter).
func OpaqueXattr() string { return opaqueXattr() }

// Package rootless lets a normal user run kiln: Enter re-executes kiln in
// a user namespace of its own (with a mount namespace), mapped with the
// user's subordinate ids, where kiln is root over the ids 0..65535 and
// nothing else. Everything kiln does from there (the store, unpacking and
// normalising layers, the sandboxes of steps) runs as it does for root, so
// files carry the ids a step gave them (the host sees them shifted into
// the user's /etc/subuid range) and outputs are the bytes a root build
// makes.
//
// Why the whole kiln and not only each step's container: the store's
// layers hold in-namespace owners, whiteouts and overlay xattrs that a
// process outside the namespace can neither create nor read back the
// same way; doing the store-side work inside the namespace keeps one code
// path for root and normal users, and the layers on disk need no sidecar
// ownership records.
//
// The namespace is made the way podman and buildah make theirs: kiln
// starts itself with CLONE_NEWUSER, has the setuid helpers newuidmap and
// newgidmap (Debian's uidmap package) write the mappings, then the child
// re-executes itself once more, so that it starts with the full
// capability set of root in its namespace (a process's capabilities are
// recomputed at execve, and the first execve happened before the mapping
// existed).
package rootless

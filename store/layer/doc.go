// Package layer owns kiln's filesystem layers: directory trees in the store
// kept in overlayfs-native form, so that the sandbox can mount them as
// overlay lowerdirs without any conversion, and their one canonical tar
// encoding, whose sha256 is the layer's identity (the OCI diff_id).
//
// Why here and nowhere else: bit-reproducibility of everything kiln exports
// rests on two functions. Normalize turns whatever a sandbox left in its
// upper directory into a tree whose metadata depends only on what the step
// did (not on the clock, the umask or the host's security modules), and
// WriteTar turns a tree into bytes that depend only on the tree (not on
// readdir order, the Go tar writer's defaults or the host's user database).
// Unpack is the inverse edge: OCI layer tars from images become trees, with
// every entry confined to the destination.
//
// # On-disk form (overlayfs)
//
//   - A whiteout is a character device 0/0 named like the hidden entry.
//   - An opaque directory carries the xattr trusted.overlay.opaque=y.
//
// # Canonical tar (OCI form)
//
//   - Entries in depth-first order, the children of a directory sorted
//     bytewise by their tar base name, except that a directory's opaque
//     marker .wh..wh..opq comes first among its children (consumers that
//     apply it when they meet it must not delete siblings from the same
//     layer). Parents therefore always precede children.
//   - Names are relative, without "./" or a leading "/"; directories end
//     in "/". The root directory itself has no entry.
//   - Every header is written with archive/tar's PAX format: an extended
//     header appears only when a value does not fit USTAR (long or non-ASCII
//     names and link targets, large ids or sizes) or when the entry has
//     allow-listed xattrs (SCHILY.xattr.*, sorted by key).
//   - uid/gid numeric as on disk, uname/gname empty, mode = permission bits
//     plus setuid/setgid/sticky as on disk, mtime in whole seconds
//     (truncated), no atime or ctime.
//   - Hardlinked regular files: the first path in entry order is written as
//     a file, later ones as TypeLink entries naming it.
//   - A whiteout X becomes a regular empty file .wh.X and an opaque
//     directory D gets an empty regular file D/.wh..wh..opq. Both have mode
//     0, uid 0, gid 0 and no xattrs, so their bytes do not depend on how the
//     kernel created the whiteout; their mtime is the whiteout node's mtime
//     (for .wh.X) and the opaque directory's mtime (for .wh..wh..opq), both
//     already clamped to SOURCE_DATE_EPOCH by Normalize.
//
// # Extended attributes
//
// Only these survive Normalize, are written by WriteTar and are applied by
// Unpack (see AllowedXattr):
//
//   - user.* except user.overlay.* (overlay's own bookkeeping when mounted
//     with userxattr): set on purpose by build steps, identical wherever the
//     step runs;
//   - security.capability: file capabilities (ping, newuidmap) are part of
//     what a package installs;
//   - system.posix_acl_access and system.posix_acl_default: ACLs that a step
//     sets explicitly.
//
// Dropped: security.selinux, security.ima, security.evm, security.apparmor
// and the rest of security.* (they vary with the host's security modules and
// the builder's privileges), trusted.* (trusted.overlay.opaque=y is the one
// exception, and it travels as .wh..wh..opq rather than as an xattr). Two
// overlay xattrs make Normalize fail instead: trusted.overlay.redirect and
// trusted.overlay.metacopy mean the upper directory does not hold the
// layer's full contents; the sandbox must mount with redirect_dir=off and
// metacopy=off.
package layer

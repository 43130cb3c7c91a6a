// Package snapshot is the copy snapshotter: the fallback for a step's root
// filesystem where the kernel refuses an overlayfs mount (a user namespace
// on a kernel or filesystem without unprivileged overlayfs), or where it is
// forced with KILN_SNAPSHOTTER=copy.
//
// Assemble copies a stack of store layers into one private directory,
// applying their whiteouts and opaque directories as overlayfs would merge
// them, and records every entry's identity. The step runs there. Diff then
// compares the tree the step left with that record and writes into an
// empty directory what overlayfs would have left in its upper directory:
// the entries the step created or changed, their parent directories, a
// 0/0 character device for each entry it deleted, and the opaque xattr on
// a directory it deleted and created again (or created where a lower layer
// had a whiteout). The realizer then turns that directory into a layer
// exactly as it does an overlay's upper, so the layer's bytes are the same.
//
// "Changed" is decided by identity, not by contents: an entry is the same
// when it has the same inode (number and birth time) and the same change
// time as when it was recorded. Every write, chmod, chown, xattr change,
// utimes and link count change moves the change time, and those are the
// operations that make overlayfs copy an entry up. Where the two still
// differ (see docs/security.md, "Copy snapshotter"): a lower file opened
// for writing but not written is copied up by overlayfs and not seen here;
// hard links between lower files are one inode here, so writing one name
// changes both (overlayfs with index=off copies up only the name written),
// and removing one name changes the other's link count; a lower directory
// can be renamed here, where overlayfs with redirect_dir=off answers EXDEV
// and mv falls back to a copy (same result).
package snapshot

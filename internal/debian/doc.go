// Package debian reads Debian archives the way apt does, for kiln's "deb"
// source: the machine's apt configuration (sources.list and deb822
// .sources files), Release and Packages indexes (deb822 paragraphs),
// version comparison and dependency fields as dpkg defines them, the
// dependency closure of a set of packages, and .deb files (ar archives
// holding control.tar and data.tar).
//
// It is internal because it is not a general Debian library: it implements
// the subset kiln needs to pin packages in build.lock.hcl and to assemble
// a root filesystem from them without running maintainer scripts, and its
// choices (documented in docs/deb.md) are kiln's, not a stable API.
package debian

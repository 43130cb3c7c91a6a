// Package store owns kiln's content-addressed store: immutable objects on
// disk, a badger index over them, the process lock that lets several kiln
// processes share one store, garbage collection and verification.
//
// The store is the only place where realized outputs live, so it is built to
// survive being killed at any instant: every object is written under a
// temporary name, synced, renamed into place, and only then indexed. An index
// entry therefore never names a missing object, while an object without an
// index entry (a crash between rename and index) is harmless: the next add of
// the same digest adopts it, and Verify with repair removes it.
//
// # On-disk layout
//
//	<root>/
//	  lock               flock'ed by the process using the store; holds its pid
//	  index/             badger database (the index, see below)
//	  layers/<hex>/      a layer: a directory tree named by the sha256 of its
//	                     canonical tar (computed by store/layer, not here)
//	  blobs/<hex>        a file named by the sha256 of its bytes (read-only)
//	  logs/<hex>.log     the build log of derivation <hex>, replaced whole
//	  tmp/               temporary dirs and files; everything here is removed
//	                     when the store is next opened for writing
//
// Objects are never rewritten once renamed into place. Layer trees keep the
// modes they were built with (modes are content), so immutability of layers
// is a promise of this package rather than a permission bit; blobs are made
// read-only.
//
// # Index
//
// Keys start with one byte naming what they hold; digests are stored as their
// 32 raw sha256 bytes. Values start with the last-use time (8 bytes, unix
// nanoseconds, big endian) so touching an entry rewrites one small value.
//
//	"!schema"              schema version, decimal
//	'o' + drv              realized output of a derivation (layers, blob,
//	                       meta, build time and duration, refs)
//	'l' + layer            layer size (uncompressed tar bytes) and file count
//	'b' + blob             blob size
//	'r' + name             a GC root: the derivations it keeps alive
//	'm' + ns + 0 + key     generic metadata for other packages
//
// # Processes
//
// badger allows one process per database, so Open takes an exclusive flock on
// <root>/lock for the life of the Store (a shared one WithReadOnly). A second
// process blocks in Open until the first closes, after telling its caller who
// holds the lock (WithWaitNotice). The kernel drops the lock when its holder
// dies, so a killed build never wedges the store. Blocking has no timeout:
// the user sees the notice and can stop either process.
//
// # Speed
//
// A no-op build opens the store, looks up every derivation and closes it, so
// Open reads the index through a read-only badger handle (no fresh memtable
// or value log to map) and reopens it for writing only at the first write.
// Last-use times are rewritten at most once an hour per entry and written
// at Close, so such a build writes nothing.
package store

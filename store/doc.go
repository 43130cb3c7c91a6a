// Package store owns kiln's content-addressed store: immutable objects on
// disk, a badger index over them, the sharing of one store by any number of
// kiln processes at once, garbage collection and verification.
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
//	  lock               flock'ed shared by every kiln process using the store
//	                     (an older kiln takes it exclusively: see Processes)
//	  index/             badger database (the index, see below)
//	  index.lock         flock'ed by the process owning the index; its pid
//	  index.sock         where the owner serves the index to other processes
//	  procs/<token>      one per open Store, flock'ed by it: its temp roots
//	  locks/<k>-<hex>    key locks: a derivation being built, an object being
//	                     added or removed; removed by their holder
//	  gc.lock            flock'ed by a running GC or Verify
//	  config.hcl         the store's configuration: its GC policy (config.go)
//	  gc.state           the last measurement of the store's size (policy.go)
//	  cache/<hex>/       a cache mount, named by its id's hash (caches.go)
//	  layers/<hex>/      a layer: a directory tree named by the sha256 of its
//	                     canonical tar (computed by store/layer, not here)
//	  blobs/<hex>        a file named by the sha256 of its bytes (read-only)
//	  logs/<hex>.log     the build log of derivation <hex>, replaced whole
//	  tmp/               temporary dirs and files, named after the token of the
//	                     Store that made them; those of a Store that is gone
//	                     are removed when the store is next opened
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
// Any number of kiln processes use one store at once; none waits for
// another's command to end. badger allows one process per database, so the
// design is a store server without a daemon (Bazel's client/server, a
// nix-daemon started on demand):
//
//   - The first process that needs the index takes index.lock (a
//     non-blocking exclusive flock), opens badger and serves the index over
//     the unix socket index.sock; every other process is its client. The
//     Store code runs on one small interface (kv: get, scan, write,
//     collect) whose owner-side implementation is badger and whose client
//     side sends the same operations over the socket; a round trip costs
//     tens of microseconds, a badger open milliseconds.
//   - When the owner's Store closes, it stops accepting, lets requests in
//     progress finish, hangs up, closes badger and drops the lock. When the
//     owner dies (kill -9), the kernel drops the lock and the socket stops
//     answering. Either way each client's next request fails, and clients
//     elect again: one wins the lock, removes the socket file a dead owner
//     left (only the lock holder may) and serves; the others connect to it.
//     Requests are idempotent, so the one cut off is simply sent again. No
//     daemon is started by hand and nothing stale needs cleaning by hand.
//   - An owner that is stopped (SIGSTOP, Ctrl-Z) keeps the lock, and its
//     socket still accepts connections, so a client would wait for ever:
//     a watchdog checks the owner's state in /proc while a request waits,
//     and one stopped for 2 s fails the request with ErrOwnerStopped,
//     naming its pid and how to resume it (a slow but running owner is
//     waited for). A read-only owner writes its pid too, for that message.
//   - Kilns of different store schemas or wire protocols meet in a hello
//     exchanged on connecting, and the newcomer fails with
//     ErrVersionMismatch naming the owner's pid. An older kiln (one
//     process per store) takes <root>/lock exclusively; this one holds it
//     shared, so that the two designs wait for each other (WithWaitNotice)
//     and never share badger.
//
// The alternative, opening badger only for short transactions under a
// lock (Nix's SQLite), was measured and rejected (BenchmarkBadgerOpen, on
// an index of 1,000 records): a read-only open and close costs about 4 ms,
// a writing open, one write and close over 100 ms, since each close
// flushes a memtable into a new level-0 table and syncs. A build records
// an output per step, and every look-up of another process would wait
// for those opens; compaction would be left to nobody.
//
// Building: LockBuild takes a key lock on the derivation (an flock'ed file
// under locks/, released by the kernel if its holder dies, removed by its
// holder, re-checked after locking as Nix's path locks are), then looks
// the derivation up again. A derivation wanted by several processes is so
// built once; the others wait for that derivation alone and reuse it,
// giving their job slot back while they wait (LockBuild's busy hook).
// A holder writes its pid into the lock file; a waiter that sees that
// process stopped for 2 s fails with ErrHolderStopped rather than waiting
// for a process that may never go on (the pid is only read, so a stale
// one after kill -9 is harmless: the flock is free then).
// Adds take the key lock of their object too, so that GC never removes a
// tree that an add has just adopted.
//
// Garbage collection next to builds: every Store registers a participant
// file, procs/<token>, flock'ed for its life, and appends to it the index
// key of everything it looks up, adds or records, before reading the
// index (Nix's temproots). GC plans from a snapshot without stopping
// anyone, then asks the owner to collect: with the index to itself for
// that one step, the owner reads the temp roots of every live participant,
// keeps them and what they reference, and deletes the rest of the plan in
// one transaction (of at most 2,000 keys, records before objects: a
// record kept in one keeps its objects in the next). Any look-up that
// found an entry before then has its root on disk; any later one finds
// the entry gone and builds again. Files are then removed one by one,
// each under its key lock after checking the index again. A GC holds up
// no build for longer than one such index transaction. GC and Verify exclude each other (gc.lock), not builds.
// A participant file is removed only by a cleaner holding its exclusive
// lock (removeIfDead): removed after a mere test, the file of a kiln that
// locked it in between went while it lived, and its temp entries (running
// steps' upper directories) were then taken for a dead process's.
// A GC started by a build process itself (automatic collection under a
// budget) runs this same GC; that process's own temp roots do not count
// against it, so it must run after the build has added its GC roots, or
// root what it still uses first.
//
// Automatic collection (policy.go) is this GC under the policy of
// config.hcl, started by a build: after its roots are recorded when the
// store is over budget, and next to its steps when free space is low,
// then with KeepOwn so that this process's own temp roots count too. It
// never waits for another collection (one running will do), and cache
// mounts in use are held as temp roots as well (caches.go).
//
// Temporary entries are named after their Store's token; Open removes
// those whose participant file no one holds, so a killed kiln's leftovers
// go at the next Open by any process, while a live one's stay.
//
// # Speed
//
// A no-op build opens the store, looks up every derivation and closes it, so
// Open reads the index through a read-only badger handle (no fresh memtable
// or value log to map) and reopens it for writing only at the first write.
// Last-use times are rewritten at most once an hour per entry and written
// at Close, so such a build writes nothing.
package store

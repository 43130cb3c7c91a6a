// Package cache shares realized outputs between machines through OCI
// registries and OCI layout directories: kiln's binary cache, as BuildKit's
// cache import/export and Nix's substituters are theirs.
//
// Because kiln's outputs are bit-reproducible and content-addressed, an
// entry is checked, not only trusted: its signature binds derivation keys
// to layer digests, every downloaded blob is hashed before it enters the
// store, and every layer is hashed again after it is unpacked.
//
// # Format
//
// Plain OCI, so that any registry holds it (docker-registry, GHCR, ECR,
// Harbor, zot) and generic tools can copy it:
//
//	REF (a tag)            image index, artifactType EntryType
//	  manifests[i]         one entry: an image manifest, with annotations
//	                       AnnotationKeys (the derivation digests and
//	                       resolved keys it answers, space separated) and
//	                       AnnotationKeyID (the signer's key id)
//	entry manifest         artifactType EntryType;
//	                       config: the entry record (JSON, EntryConfigType):
//	                       keys, layers (kiln layer digest = canonical tar
//	                       sha256, compressed blob digest and size), other
//	                       blobs, output metadata;
//	                       layers: the blobs it needs, so that a registry's
//	                       GC keeps them and copies carry them;
//	                       annotations: AnnotationSignature (ed25519 over
//	                       the config bytes), AnnotationKeyID
//	blobs                  layers as gzip'ed canonical tars (byte-identical
//	                       across machines, so pushes skip what is there);
//	                       other blobs as they are in the store
//
// A directory (type=local) is an OCI image layout whose index.json is the
// cache index itself.
//
// # Tag scheme
//
// One repository holds any number of caches, one per tag: REF is the
// index of one project and branch, e.g. registry.example/kiln-cache:
// myapp-main and registry.example/kiln-cache:myapp-feature-x. Entry
// manifests are pushed by digest, never tagged, so caches sharing a
// repository share blobs and entries without overwriting each other's
// tags. An export reads the index at REF again right before writing it,
// merges its entries in, and reads it back after waiting longer than that
// read and write took, merging again when its entries are gone: two
// stores exporting to one tag at once both keep their entries.
//
// # Trust
//
// Entries are signed with ed25519 keys (Keygen). An import uses only
// entries signed by a key it trusts and verifies each signature before
// downloading anything the entry names; an unsigned or foreign entry is
// skipped with one warning per cache. insecure=true allows unsigned
// entries, whose blobs are still checked against their digests.
//
// # Failure
//
// A cache is an optimisation: a cache that is down, slow (every request is
// bounded by timeouts; a body that stops moving, downloaded or uploaded,
// is given up after Spec.Timeout) or refusing is reported once as a warning and the
// build goes on locally; only required=true makes it an error. Nothing a
// cache sends is read without bound: the index up to maxIndexSize, an
// entry's manifest and config up to maxManifestSize, a blob up to the size
// its signed entry gives.
package cache

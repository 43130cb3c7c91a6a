// Package export owns what kiln ships: image layers turned into blobs,
// image configs, manifests and indexes assembled from an image block, and
// the exporters that write them (OCI layout directory or tar, docker
// archive, registry push) or write a state's files (local directory, tar).
//
// Every byte it writes is deterministic: one JSON encoder over frozen
// structs, times from SOURCE_DATE_EPOCH, compression with pinned parameters
// (package compress), entries and manifests in sorted order. It depends on
// the store and the layer package only through the Layer (FileLayer) and
// BlobStore interfaces, so either side can change without the other.
//
// Writing is atomic: each exporter writes a temporary sibling of its
// destination and renames it into place, so a failed export leaves nothing
// at the destination. An existing destination is an error unless the
// output spec says force=true (Output.Force). An output is flushed to disk
// before the rename only when the spec says sync=true (Output.Sync), as
// tar and BuildKit's exporters do not flush theirs: the store, which must
// survive a power cut, keeps its own flushes (docs/store.md).
//
// Each output type is an Exporter in its own file (oci.go, docker.go,
// registry.go, local.go, tar.go), listed once in exporters (exporter.go);
// its Keys say which --output keys it takes and its Check what it needs.
// Each layer compression is a compress.Compressor, likewise. Package
// targets, below this one, feeds it a build's targets out of the store.
package export

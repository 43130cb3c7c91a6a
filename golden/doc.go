// Package golden owns build.golden.hcl: the checked-in record of what a
// build.hcl produces, so that CI fails when an output's bytes move without
// anyone meaning them to.
//
// For an image it records, per platform and compression, the manifest and
// config digests with the layers' uncompressed digests (diff_ids) beside
// their blob digests: a compression change moves only blobs and manifests,
// a content change moves diff_ids too, and a reviewer tells them apart at a
// glance. For an artifact it records the sha256 of its tar as
// `kiln build -o type=tar` writes it and, optionally, each file's sha256.
//
// The file is written like build.lock.hcl (hclwrite, a header, a format
// version, one block per target sorted by address, attributes in a fixed
// order, one value per line, no timestamps), so that updating one target
// changes only that target's lines. The package has no knowledge of how
// outputs are built: `kiln golden` and kiln's own example tests hand it
// assembled images and tar streams (Record*), and compare with Diff.
package golden

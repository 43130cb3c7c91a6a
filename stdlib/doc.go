// Package stdlib holds the functions available in build.hcl expressions.
//
// It is go-cty's standard library (the set Terraform users know), a few
// encoders kiln adds (base64, hashes, yaml), and the filesystem functions
// file, filesha256 and glob, confined to the build file's folder so a build
// cannot read the machine it runs on. Functions whose result changes between
// runs (timestamp, uuid, bcrypt, ...) are deliberately absent: they are
// registered only to fail with an error that points to SOURCE_DATE_EPOCH,
// because a build whose inputs change on every run can never be reproducible.
package stdlib

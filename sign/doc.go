// Package sign writes cosign's signatures and attestations for images in
// a registry, so that `cosign verify --key` and `cosign verify-attestation
// --key` accept what kiln pushed. Only key-pair signing: keyless signing
// (Fulcio certificates, the Rekor transparency log) is out of scope, so a
// verifier passes --insecure-ignore-tlog=true.
//
// The formats are Sigstore's, as cosign v2 writes and reads them:
//
//   - An image signature is a simple-signing payload (the repository as
//     critical.identity.docker-reference, the manifest digest as
//     critical.image.docker-manifest-digest) stored as a layer of media
//     type application/vnd.dev.cosign.simplesigning.v1+json, its
//     signature in the layer's dev.cosignproject.cosign/signature
//     annotation, in an image tagged sha256-<hex>.sig in the same
//     repository.
//   - An attestation is a DSSE envelope (payloadType
//     application/vnd.in-toto+json, signed over DSSE's pre-authentication
//     encoding) holding an in-toto statement, stored as a layer of media
//     type application/vnd.dsse.envelope.v1+json with a predicateType
//     annotation, in an image tagged sha256-<hex>.att.
//
// Signatures are ECDSA P-256 over SHA-256, made deterministic with RFC
// 6979 (Go's ecdsa signing with no random source): the same key, image
// and statement give byte-identical payloads, signatures and .sig/.att
// manifests, and signing again adds nothing. Existing layers of those
// images (another signer's, cosign's own) are kept, as cosign keeps them.
//
// Key material never leaves a Key: it prints as its public fingerprint,
// and no error quotes a key file's bytes.
package sign

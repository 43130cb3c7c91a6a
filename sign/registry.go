package sign

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options say how to reach the registry.
type Options struct {
	// Insecure allows plain HTTP and unverified TLS, as registry.insecure
	// does for a push. Loopback registries get plain HTTP regardless.
	Insecure bool
	// Digest, when set, is the manifest digest to sign in the reference's
	// repository instead of the one the reference resolves to: the digest
	// a push just wrote, which a tag moved since must not replace.
	Digest string
}

// Result is what signing wrote.
type Result struct {
	// Ref is the signature or attestation image: REPO:sha256-<hex>.sig
	// or .att.
	Ref string
	// Digest is that image's manifest digest.
	Digest string
	// Subject is the signed image, REPO@sha256:<hex>.
	Subject string
	// Added is false when the image held this very signature already,
	// and nothing was written.
	Added bool
}

// Image signs the image ref names (a tag is resolved to its digest once,
// and the digest is what is signed) and stores the signature under the
// tag cosign looks for.
func Image(ctx context.Context, ref string, k *Key, o Options) (Result, error) {
	d, ropts, err := resolve(ctx, ref, o)
	if err != nil {
		return Result{}, err
	}
	payload := SimpleSigningPayload(d.Context().Name(), d.DigestStr())
	sig, err := k.Sign(payload)
	if err != nil {
		return Result{}, err
	}
	layer := static.NewLayer(payload, SimpleSigningMediaType)
	ann := map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)}
	// A layer with this payload whose signature the key verifies is this
	// key's signature of this image already (cosign's randomised one, or
	// kiln's identical one).
	same := func(desc v1.Descriptor, want v1.Hash) bool {
		if desc.Digest != want {
			return false
		}
		old, err := base64.StdEncoding.DecodeString(desc.Annotations[SignatureAnnotation])
		return err == nil && k.verify(payload, old)
	}
	return attach(ctx, d, ".sig", layer, ann, same, ropts)
}

// Attestation signs an in-toto statement about the image ref names into
// a DSSE envelope and adds it to the image's attestations, where cosign
// verify-attestation looks. One of the statement's subjects must be the
// image's digest.
func Attestation(ctx context.Context, ref string, statement []byte, k *Key, o Options) (Result, error) {
	d, ropts, err := resolve(ctx, ref, o)
	if err != nil {
		return Result{}, err
	}
	predicate, err := checkStatement(statement, d.DigestStr())
	if err != nil {
		return Result{}, err
	}
	env, err := Envelope(statement, k)
	if err != nil {
		return Result{}, err
	}
	layer := static.NewLayer(env, DSSEMediaType)
	// The signature is inside the envelope; cosign still reads the
	// annotation of every layer of the image, so it is there, empty, as
	// cosign attest leaves it.
	ann := map[string]string{SignatureAnnotation: "", PredicateAnnotation: predicate}
	// Envelopes are deterministic: the same statement signed by the same
	// key is the same layer.
	same := func(desc v1.Descriptor, want v1.Hash) bool { return desc.Digest == want }
	return attach(ctx, d, ".att", layer, ann, same, ropts)
}

// resolve parses ref and finds the digest it names in the registry.
func resolve(ctx context.Context, ref string, o Options) (name.Digest, []remote.Option, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return name.Digest{}, nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	if o.Digest != "" {
		d, err := name.NewDigest(r.Context().Name()+"@"+o.Digest, nopts...)
		if err != nil {
			return name.Digest{}, nil, fmt.Errorf("image digest %q: %w", o.Digest, err)
		}
		r = d
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		// A registry that is down should fail signing in seconds, as it
		// fails a push.
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 3}),
	}
	desc, err := remote.Head(r, ropts...)
	if err != nil {
		if notFound(err) {
			return name.Digest{}, nil, fmt.Errorf("%s: no such image in the registry (push it first: kiln build -o type=registry,name=...)", ref)
		}
		return name.Digest{}, nil, fmt.Errorf("%s: looking the image up: %w", ref, err)
	}
	return r.Context().Digest(desc.Digest.String()), ropts, nil
}

// attach adds layer to the image tagged sha256-<hex>SUFFIX next to the
// signed image d, unless a layer there is already the same one.
func attach(ctx context.Context, d name.Digest, suffix string, layer v1.Layer, ann map[string]string, same func(v1.Descriptor, v1.Hash) bool, ropts []remote.Option) (Result, error) {
	tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + suffix)
	res := Result{Ref: tag.String(), Subject: d.String()}
	want, err := layer.Digest()
	if err != nil {
		return res, err
	}
	base, err := remote.Image(tag, ropts...)
	switch {
	case notFound(err):
		// cosign's empty signature image: an OCI manifest with an empty
		// OCI config, which is what its verifiers read.
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	case err != nil:
		return res, fmt.Errorf("reading %s: %w", tag, err)
	default:
		m, err := base.Manifest()
		if err != nil {
			return res, fmt.Errorf("reading %s: %w", tag, err)
		}
		for _, l := range m.Layers {
			if same(l, want) {
				dg, err := base.Digest()
				res.Digest = dg.String()
				return res, err
			}
		}
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, Annotations: ann})
	if err != nil {
		return res, err
	}
	if err := remote.Write(tag, img, ropts...); err != nil {
		return res, fmt.Errorf("writing %s: %w", tag, err)
	}
	dg, err := img.Digest()
	if err != nil {
		return res, err
	}
	res.Digest, res.Added = dg.String(), true
	return res, nil
}

// notFound says whether the registry answered that the manifest is not
// there.
func notFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

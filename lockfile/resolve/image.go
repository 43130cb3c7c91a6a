package resolve

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kiln-build/kiln/lockfile"
)

// imageResolver asks the registry for ref's manifest: its digest is the
// index (or single manifest) digest, and each wanted platform's manifest
// digest comes from the index.
type imageResolver struct{ tr http.RoundTripper }

var _ Resolver = imageResolver{}

func newImageResolver(env Env) Resolver { return imageResolver{tr: env.Transport} }

// Resolve pins in's image reference to its index and platform digests.
func (r imageResolver) Resolve(ctx context.Context, in *lockfile.Input) (*lockfile.Entry, error) {
	tr := r.tr
	ref, err := parseRef(in.Source.Ref)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", in.Source.Ref, err)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if tr != nil {
		opts = append(opts, remote.WithTransport(tr))
	}
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("looking up %s: %w", in.Source.Ref, err)
	}
	e := &lockfile.Entry{Address: in.Address, Type: lockfile.TypeImage, Ref: in.Source.Ref, Digest: desc.Digest.String()}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading index of %s: %w", in.Source.Ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading index of %s: %w", in.Source.Ref, err)
		}
		if e.Platforms, err = indexPlatforms(im, in.Platforms); err != nil {
			return nil, fmt.Errorf("%s: %w", in.Source.Ref, err)
		}
		return e, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", in.Source.Ref, err)
	}
	if e.Platforms, err = imagePlatforms(img, e.Digest, in.Platforms); err != nil {
		return nil, fmt.Errorf("%s: %w", in.Source.Ref, err)
	}
	return e, nil
}

// parseRef speaks plain http to registries on loopback, as docker does:
// they are test and development registries without certificates.
func parseRef(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, err
	}
	host := ref.Context().RegistryStr()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return name.ParseReference(s, name.Insecure)
	}
	return ref, nil
}

package source

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/internal/testutil"
)

func TestFetchImageRegistry(t *testing.T) {
	testutil.RequireRoot(t)
	reg := testutil.StartRegistry(t)
	tars := twoLayers(t)
	img := testImage(t, runtime.GOARCH, tars...)
	ref := reg.Addr + "/kiln/test:latest"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	newDir, _ := newDirs(t)
	got, err := FetchImage(context.Background(), ref, d.String(), "", false, 0, newDir)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, got, img, tars)

	// A stale pin names both digests.
	wrong := "sha256:" + strings.Repeat("cd", 32)
	_, err = FetchImage(context.Background(), ref, wrong, "", false, 0, newDir)
	if err == nil || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), d.String()) {
		t.Fatalf("wrong pin: %v", err)
	}
	if !IsPinError(err) {
		t.Errorf("wrong pin: %v does not point at the lock", err)
	}
	// Pinned by digest alone: the registry's 404 points at the lock too,
	// while a registry that cannot be reached does not.
	byDigest := reg.Addr + "/kiln/test@" + wrong
	_, err = FetchImage(context.Background(), byDigest, wrong, "", false, 0, newDir)
	if err == nil || !IsPinError(err) {
		t.Fatalf("absent digest: %v, want an error that points at the lock", err)
	}
	_, err = FetchImage(context.Background(), "127.0.0.1:1/kiln/test@"+wrong, wrong, "", false, 0, newDir)
	if err == nil || IsPinError(err) {
		t.Fatalf("unreachable registry: %v, want an error that does not blame the lock", err)
	}
	if _, err := FetchImage(context.Background(), ref, "", "", false, 0, newDir); err == nil || !strings.Contains(err.Error(), "kiln lock") {
		t.Fatalf("missing pin: %v", err)
	}
}

// TestRegistryRequestsTakeTheirContext checks that a registry request
// stops when the context it was made under is cancelled, not only the one
// the source was made under: a fetch that gives up on one blob must not
// leave another downloading.
func TestRegistryRequestsTakeTheirContext(t *testing.T) {
	testutil.RequireRoot(t)
	reg := testutil.StartRegistry(t)
	img := testImage(t, runtime.GOARCH, twoLayers(t)...)
	r, err := name.ParseReference(reg.Addr + "/kiln/ctx:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	md, _ := img.Digest()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	ld, _ := layers[0].Digest()
	src := &registrySource{repo: r.Context()}
	live := context.Background()
	cancelled, cancel := context.WithCancel(live)
	cancel()

	if _, err := src.bytes(live, digest.Digest(md.String())); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if _, err := src.bytes(cancelled, digest.Digest(md.String())); !errors.Is(err, context.Canceled) {
		t.Errorf("manifest under a cancelled context: %v, want context.Canceled", err)
	}
	rc, err := src.open(live, digest.Digest(ld.String()))
	if err != nil {
		t.Fatalf("blob: %v", err)
	}
	rc.Close()
	if rc, err := src.open(cancelled, digest.Digest(ld.String())); !errors.Is(err, context.Canceled) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("blob under a cancelled context: %v, want context.Canceled", err)
	}
	newDir, _ := newDirs(t)
	if _, err := FetchImage(cancelled, r.String(), md.String(), "", false, 0, newDir); !errors.Is(err, context.Canceled) {
		t.Errorf("FetchImage under a cancelled context: %v, want context.Canceled", err)
	}
}

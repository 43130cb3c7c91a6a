package source

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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

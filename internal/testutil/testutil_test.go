package testutil

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestBusyboxRootfs(t *testing.T) {
	dir := BusyboxRootfs(t)
	if fi, err := os.Lstat(filepath.Join(dir, "bin", "sh")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("bin/sh should be a symlink to busybox: %v", err)
	}
}

func TestStartRegistry(t *testing.T) {
	r := StartRegistry(t)
	resp, err := http.Get("http://" + r.Addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v2/: %s", resp.Status)
	}
}

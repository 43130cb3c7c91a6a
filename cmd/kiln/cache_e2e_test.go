package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/store"
)

// recorder is a reverse proxy on loopback in front of a registry that
// counts the manifests and blobs kiln downloads, and can serve one blob
// altered (a registry that lies).
type recorder struct {
	mu     sync.Mutex
	gets   map[string]int // "manifests/REF" or "blobs/DIGEST"
	tamper string         // a blob digest to serve altered
	fail   string         // "500", "401" or "slow": how every request fails; "basic": requests without kiln:right as Basic credentials
	url    string
}

func (r *recorder) set(f func(r *recorder)) {
	r.mu.Lock()
	f(r)
	r.mu.Unlock()
}

func startRecorder(t *testing.T, addr string) *recorder {
	r := &recorder{gets: map[string]int{}}
	target, _ := url.Parse("http://" + addr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		r.mu.Lock()
		tamper := r.tamper
		r.mu.Unlock()
		if tamper != "" && resp.Request.Method == http.MethodGet && strings.HasSuffix(resp.Request.URL.Path, "/blobs/"+tamper) {
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			resp.Body.Close()
			b[len(b)/2] ^= 0xff
			resp.Body = io.NopCloser(bytes.NewReader(b))
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		fail := r.fail
		r.mu.Unlock()
		switch fail {
		case "basic":
			if req.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("kiln:right")) {
				w.Header().Set("WWW-Authenticate", `Basic realm="kiln-test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
		case "500":
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		case "401":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		case "slow":
			select {
			case <-time.After(10 * time.Second):
			case <-req.Context().Done():
				return
			}
		}
		if req.Method == http.MethodPost && strings.Contains(req.URL.Path, "/blobs/uploads/") {
			r.mu.Lock()
			r.gets["uploads"]++
			r.mu.Unlock()
		}
		if req.Method == http.MethodGet {
			p := req.URL.Path
			for _, kind := range []string{"/manifests/", "/blobs/"} {
				if i := strings.LastIndex(p, kind); i >= 0 {
					r.mu.Lock()
					r.gets[kind[1:]+p[i+len(kind):]]++
					r.mu.Unlock()
				}
			}
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.url = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// reset forgets what was counted and returns it: blob GETs and manifest
// GETs by digest (entries, not the index's tag).
func (r *recorder) reset() (blobs, entries int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range r.gets {
		switch {
		case strings.HasPrefix(k, "blobs/"):
			blobs += n
		case strings.HasPrefix(k, "manifests/sha256:"):
			entries += n
		}
	}
	r.gets = map[string]int{}
	return blobs, entries
}

// uploads forgets what was counted and returns the blob uploads started.
func (r *recorder) uploads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.gets["uploads"]
	r.gets = map[string]int{}
	return n
}

// stepsRun are the steps a --progress plain build ran.
func stepsRun(stderr string) int { return strings.Count(stderr, ": done in ") }

// TestCacheRegistry shares the service example's outputs between stores
// through a real registry: signed, checked, lazily imported, and never
// failing a build.
func TestCacheRegistry(t *testing.T) {
	needTools(t, "docker-registry")
	reg := testutil.StartRegistry(t)
	rec := startRecorder(t, reg.Addr)
	keys := t.TempDir()
	kilnOK(t, keys, nil, "cache", "keygen", "ci")
	kilnOK(t, keys, nil, "cache", "keygen", "other")
	ci, ciPub, otherPub := filepath.Join(keys, "ci.key"), filepath.Join(keys, "ci.pub"), filepath.Join(keys, "other.pub")
	if fi, err := os.Stat(ci); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ci.key: %v %v", fi, err)
	}
	dir := copyExample(t, "service", filepath.Join(t.TempDir(), "service"))
	tmp := t.TempDir()
	storeEnv := func(name string) []string { return []string{"KILN_STORE=" + filepath.Join(tmp, name)} }
	ref := rec.url + "/kiln-cache:service-main"
	digestOf := func(name string) string {
		var md metadata
		readJSON(t, filepath.Join(tmp, name+".json"), &md)
		return md.Digest
	}
	build := func(store string, args ...string) (string, int) {
		t.Helper()
		args = append([]string{"build", "--progress", "plain", "--metadata-file", filepath.Join(tmp, store+".json"),
			"-o", "type=oci,dest=" + filepath.Join(tmp, store+".oci") + ",name=kiln.test/service:1,force=true"}, args...)
		_, stderr, code := kilnRun(t, dir, storeEnv(store), args...)
		return stderr, code
	}
	mustBuild := func(store string, args ...string) string {
		t.Helper()
		stderr, code := build(store, args...)
		if code != 0 {
			t.Fatalf("build in store %s: exit %d\n%s", store, code, stderr)
		}
		return stderr
	}

	// Store A builds and exports every derivation, signed.
	errA := mustBuild("a", "--cache-to", "type=registry,ref="+ref+",mode=max,key="+ci)
	if stepsRun(errA) == 0 || !strings.Contains(errA, "new entries") {
		t.Fatalf("store A:\n%s", errA)
	}
	want := digestOf("a")
	uploadsA := rec.uploads()

	t.Run("import", func(t *testing.T) {
		// An empty store B runs no step, fetches only the final state's
		// entry (lazy: no intermediate is downloaded) and gets the same
		// image.
		errB := mustBuild("b", "--cache-from", "type=registry,ref="+ref+",trusted="+ciPub)
		blobs, entries := rec.reset()
		if n := stepsRun(errB); n != 0 || !strings.Contains(errB, "fetched from the cache") || !strings.Contains(errB, "fetched 1 outputs from the caches") {
			t.Fatalf("store B ran %d steps:\n%s", n, errB)
		}
		if got := digestOf("b"); got != want {
			t.Errorf("store B's image is %s, store A's %s", got, want)
		}
		if entries != 1 {
			t.Errorf("store B fetched %d entries (%d blobs), want only the final state's", entries, blobs)
		}
		// Nothing beyond the final image's layers (and the entry's small
		// config): the build stage's layers, not in the image, stay away.
		if m := regexp.MustCompile(`fetched 1 outputs from the caches, (\d+) bytes downloaded`).FindStringSubmatch(errB); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			if image := dirSize(t, filepath.Join(tmp, "a.oci", "blobs")); n > image {
				t.Errorf("store B downloaded %d bytes for an image of %d", n, image)
			}
		}
		plan := kilnOK(t, dir, storeEnv("b"), "plan")
		if !strings.Contains(plan, "cached (remote)") {
			t.Errorf("kiln plan in store B:\n%s", plan)
		}
		if ls := kilnOK(t, dir, storeEnv("b"), "store", "ls"); !strings.Contains(ls, "ORIGIN") || !strings.Contains(ls, " remote") {
			t.Errorf("kiln store ls in store B:\n%s", ls)
		}
		// A second build is a no-op: nothing downloaded.
		mustBuild("b", "--cache-from", "type=registry,ref="+ref+",trusted="+ciPub)
		if blobs, entries := rec.reset(); blobs+entries != 0 {
			t.Errorf("a no-op build downloaded %d blobs, %d entries", blobs, entries)
		}
	})

	t.Run("untrusted", func(t *testing.T) {
		stderr := mustBuild("c", "--cache-from", "type=registry,ref="+ref+",trusted="+otherPub)
		if stepsRun(stderr) == 0 || strings.Count(stderr, "not a trusted key") != 1 {
			t.Errorf("an entry signed by another key was not skipped with one warning:\n%s", stderr)
		}
		if got := digestOf("c"); got != want {
			t.Errorf("store C's image is %s, want %s", got, want)
		}
	})

	t.Run("unsigned", func(t *testing.T) {
		unsigned := rec.url + "/kiln-cache:service-unsigned"
		mustBuild("a", "--cache-to", "type=registry,ref="+unsigned)
		_, stderr, code := kilnRun(t, dir, storeEnv("d"), "build", "--cache-from", "type=registry,ref="+unsigned)
		if code != 2 || !strings.Contains(stderr, "insecure=true") {
			t.Errorf("a cache without trusted= or insecure=true: exit %d\n%s", code, stderr)
		}
		stderr = mustBuild("d", "--cache-from", "type=registry,ref="+unsigned+",trusted="+ciPub)
		if stepsRun(stderr) == 0 || !strings.Contains(stderr, "skipping unsigned entries") {
			t.Errorf("unsigned entries were used without insecure=true:\n%s", stderr)
		}
		stderr = mustBuild("e", "--cache-from", "type=registry,ref="+unsigned+",insecure=true")
		if stepsRun(stderr) != 0 || digestOf("e") != want {
			t.Errorf("insecure=true did not use the unsigned cache:\n%s", stderr)
		}
	})

	t.Run("tampered", func(t *testing.T) {
		// The registry serves the final state's top layer altered: refused,
		// built locally, same image.
		tampered := topLayerBlob(t, filepath.Join(tmp, "a.oci"))
		rec.mu.Lock()
		rec.tamper = tampered
		rec.mu.Unlock()
		defer func() { rec.mu.Lock(); rec.tamper = ""; rec.mu.Unlock() }()
		stderr := mustBuild("f", "--cache-from", "type=registry,ref="+ref+",trusted="+ciPub)
		if !strings.Contains(stderr, "refusing") || stepsRun(stderr) == 0 {
			t.Errorf("a tampered blob was not refused:\n%s", stderr)
		}
		if got := digestOf("f"); got != want {
			t.Errorf("store F's image is %s, want %s", got, want)
		}
	})

	t.Run("down", func(t *testing.T) {
		down := "127.0.0.1:1/kiln-cache:x"
		stderr := mustBuild("g", "--cache-from", "type=registry,ref="+down+",trusted="+ciPub, "--cache-to", "type=registry,ref="+down)
		if !strings.Contains(stderr, "unavailable, building locally: nothing answers at its address") || !strings.Contains(stderr, "build is unaffected") {
			t.Errorf("a registry that is down:\n%s", stderr)
		}
		stderr, code := build("g", "--cache-to", "type=registry,ref="+down+",required=true")
		if code == 0 || !strings.Contains(stderr, "the build succeeded, but exporting to the required") {
			t.Errorf("a failed required export: exit %d\n%s", code, stderr)
		}
		_, stderr, code = kilnRun(t, dir, storeEnv("g2"), "build", "--cache-from", "type=registry,ref="+down+",trusted="+ciPub+",required=true")
		if code == 0 || !strings.Contains(stderr, "is required but cannot be used") {
			t.Errorf("a required cache that is down: exit %d\n%s", code, stderr)
		}
	})

	// A registry answering 500, too slowly or refusing the credentials:
	// each a warning, each build goes on locally within bounded time.
	explained := map[string]string{"500": "the registry failed (HTTP 500)", "slow": "the registry did not answer in time", "401": "the registry refused the credentials (HTTP 401)"}
	for _, mode := range []string{"500", "slow", "401"} {
		t.Run("failing-"+mode, func(t *testing.T) {
			rec.set(func(r *recorder) { r.fail = mode })
			defer rec.set(func(r *recorder) { r.fail = "" })
			start := time.Now()
			stderr := mustBuild("h"+mode, "--cache-from", "type=registry,ref="+ref+",trusted="+ciPub+",timeout=1s",
				"--cache-to", "type=registry,ref="+ref+",timeout=1s")
			if strings.Count(stderr, "is unavailable, building locally: "+explained[mode]) != 1 || !strings.Contains(stderr, "build is unaffected: "+explained[mode]) {
				t.Errorf("registry failing with %s:\n%s", mode, stderr)
			}
			if el := time.Since(start); el > 60*time.Second {
				t.Errorf("registry failing with %s: the build took %s", mode, el)
			}
			if got := digestOf("h" + mode); got != want {
				t.Errorf("image %s, want %s", got, want)
			}
		})
	}

	// A registry that asks for a login, given the wrong password and then
	// the right one in the Docker configuration.
	t.Run("credentials", func(t *testing.T) {
		rec.set(func(r *recorder) { r.fail = "basic" })
		defer rec.set(func(r *recorder) { r.fail = "" })
		docker := t.TempDir()
		login := func(pass string) []string {
			cfg := `{"auths":{"` + rec.url + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("kiln:"+pass)) + `"}}}`
			if err := os.WriteFile(filepath.Join(docker, "config.json"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"DOCKER_CONFIG=" + docker}
		}
		from := "type=registry,ref=" + ref + ",trusted=" + ciPub + ",timeout=5s"
		_, stderr, code := kilnRun(t, dir, append(storeEnv("i"), login("wrong")...), "build", "--progress", "plain", "--cache-from", from)
		if code != 0 || strings.Count(stderr, "is unavailable, building locally: the registry refused the credentials (HTTP 401)") != 1 || stepsRun(stderr) == 0 {
			t.Errorf("wrong credentials: exit %d\n%s", code, stderr)
		}
		_, stderr, code = kilnRun(t, dir, append(storeEnv("j"), login("right")...), "build", "--progress", "plain", "--cache-from", from)
		if code != 0 || stepsRun(stderr) != 0 || strings.Contains(stderr, "warning") {
			t.Errorf("the right credentials: exit %d\n%s", code, stderr)
		}
	})

	// A change to one source file: only its chain is rebuilt; what came
	// out as before is found in the cache by its resolved key (early
	// cutoff across machines), and only the new entries are exported.
	dir2 := filepath.Join(t.TempDir(), "service2")
	if out, err := exec.Command("cp", "-a", dir, dir2).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(dir2, "src", "test.sh"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("# changed\n")
	f.Close()
	t.Run("change", func(t *testing.T) {
		rec.uploads()
		_, stderr, code := kilnRun(t, dir2, storeEnv("b"), "build", "--progress", "plain",
			"--cache-from", "type=registry,ref="+ref+",trusted="+ciPub, "--cache-to", "type=registry,ref="+ref+",mode=max,key="+ci,
			"--metadata-file", filepath.Join(tmp, "b2.json"), "-o", "type=oci,dest="+filepath.Join(tmp, "b2.oci")+",name=kiln.test/service:1")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if n := stepsRun(stderr); n == 0 || n > 5 || !strings.Contains(stderr, "fetched from the cache") {
			t.Errorf("after a change, %d steps ran:\n%s", n, stderr)
		}
		if got := digestOf("b2"); got != want {
			t.Errorf("the change to a test script changed the image: %s, want %s", got, want)
		}
		m := regexp.MustCompile(`\((\d+) new entries, (\d+) there already\)`).FindStringSubmatch(stderr)
		if m == nil {
			t.Fatalf("no export report:\n%s", stderr)
		}
		added, _ := strconv.Atoi(m[1])
		// Every derivation above the changed file has a new digest, but
		// only the layers that changed are sent again.
		if skipped, _ := strconv.Atoi(m[2]); added == 0 || added > 7 || skipped == 0 {
			t.Errorf("re-export after a change: %s new, %s there already", m[1], m[2])
		}
		if up := rec.uploads(); up >= uploadsA {
			t.Errorf("re-export after a change uploaded %d blobs, the first export %d", up, uploadsA)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		conc := rec.url + "/kiln-cache:service-concurrent"
		var wg sync.WaitGroup
		for _, c := range []struct{ dir, store string }{{dir, "a"}, {dir2, "b"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				kilnOK(t, c.dir, storeEnv(c.store), "build", "--cache-to", "type=registry,ref="+conc+",mode=max,key="+ci)
			}()
		}
		wg.Wait()
		for i, d := range []string{dir, dir2} {
			store := "conc" + strconv.Itoa(i)
			_, stderr, code := kilnRun(t, d, storeEnv(store), "build", "--progress", "plain", "--cache-from", "type=registry,ref="+conc+",trusted="+ciPub)
			if code != 0 || stepsRun(stderr) != 0 {
				t.Errorf("importing %s from a cache two stores exported to at once: exit %d\n%s", d, code, stderr)
			}
		}
	})
}

// TestCacheLocal shares outputs through an OCI layout directory, the
// environment variables, and refuses a blob altered on disk.
func TestCacheLocal(t *testing.T) {
	needTools(t)
	keys := t.TempDir()
	kilnOK(t, keys, nil, "cache", "keygen", "ci")
	dir := copyExample(t, "service", filepath.Join(t.TempDir(), "service"))
	tmp := t.TempDir()
	cacheDir := filepath.Join(tmp, "cache")
	env := func(store string, more ...string) []string {
		return append([]string{"KILN_STORE=" + filepath.Join(tmp, store)}, more...)
	}
	kilnOK(t, dir, env("a", "KILN_CACHE_TO=type=local,dest="+cacheDir+",key="+filepath.Join(keys, "ci.key")), "build")
	if _, err := os.Stat(filepath.Join(cacheDir, "oci-layout")); err != nil {
		t.Fatalf("the cache is not an OCI layout: %v", err)
	}
	from := "KILN_CACHE_FROM=type=local,src=" + cacheDir + ",trusted=" + filepath.Join(keys, "ci.pub")
	_, stderr, code := kilnRun(t, dir, env("b", from), "build", "--progress", "plain")
	if code != 0 || stepsRun(stderr) != 0 {
		t.Fatalf("import from a directory: exit %d\n%s", code, stderr)
	}

	// Alter every layer blob on disk: refused, built locally.
	blobs, _ := filepath.Glob(filepath.Join(cacheDir, "blobs", "sha256", "*"))
	altered := 0
	for _, p := range blobs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // gzip: a layer
			continue
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		altered++
	}
	if altered == 0 {
		t.Fatal("no layer blob in the cache")
	}
	_, stderr, code = kilnRun(t, dir, env("c", from), "build", "--progress", "plain")
	if code != 0 || !strings.Contains(stderr, "refusing") || stepsRun(stderr) == 0 {
		t.Errorf("altered blobs: exit %d\n%s", code, stderr)
	}
}

// topLayerBlob is the digest of the last layer of the image in an OCI
// layout kiln wrote: kiln's cache compresses layers as its exports do.
func topLayerBlob(t *testing.T, dir string) string {
	m, _ := layoutManifest(t, dir)
	return string(m.Layers[len(m.Layers)-1].Digest)
}

// TestVerifyAgainstPoisonedCache: whoever holds the signing key can put
// any output under a derivation's digest, and an import takes it (the
// signature is good). kiln verify --against-cache catches it: it names the
// derivation and the file that differs.
func TestVerifyAgainstPoisonedCache(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	if err := testutil.WriteBusyboxRootfs(filepath.Join(dir, "base", "rootfs"), testutil.BusyboxPath); err != nil {
		t.Fatal(err)
	}
	file := func(word string) string {
		return `kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}
source "local" "busybox" { path = "base/rootfs" }
stage "app" {
  from = source.local.busybox
  run { shell = "mkdir -p /out && echo ` + word + ` > /out/word.txt" }
}
`
	}
	tmp := t.TempDir()
	kilnOK(t, tmp, nil, "cache", "keygen", "ci")
	storeEnv := []string{"KILN_STORE=" + filepath.Join(tmp, "store")}
	root := regexp.MustCompile(`stage\.app \(linux/amd64\): (sha256:[0-9a-f]{64})`)
	build := func(word string) digest.Digest {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "build.hcl"), []byte(file(word)), 0o644); err != nil {
			t.Fatal(err)
		}
		m := root.FindStringSubmatch(kilnOK(t, dir, storeEnv, "build", "stage.app"))
		if m == nil {
			t.Fatal("no root digest in kiln build's output")
		}
		return digest.Digest(m[1])
	}
	evil := build("evil")
	good := build("good")

	// An entry for the good derivation holding the evil output, signed
	// with the cache's key.
	st, err := store.Open(filepath.Join(tmp, "store"))
	if err != nil {
		t.Fatal(err)
	}
	out, ok, err := st.Lookup(evil)
	if err != nil || !ok {
		t.Fatalf("the evil output: %v %v", ok, err)
	}
	cacheDir := filepath.Join(tmp, "cache")
	if _, err := cache.Export(context.Background(), st, cache.Spec{Type: "local", Dir: cacheDir, Key: filepath.Join(tmp, "ci.key")},
		[]cache.Entry{{Keys: []digest.Digest{good}, Output: out}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	from := "type=local,src=" + cacheDir + ",trusted=" + filepath.Join(tmp, "ci.pub")
	// A build takes the poisoned entry: the signature is good.
	_, stderr, code := kilnRun(t, dir, []string{"KILN_STORE=" + filepath.Join(tmp, "victim")}, "build", "--progress", "plain", "--cache-from", from, "-o", "type=local,dest="+filepath.Join(tmp, "victim-out"), "stage.app")
	if b, _ := os.ReadFile(filepath.Join(tmp, "victim-out", "out", "word.txt")); code != 0 || string(b) != "evil\n" {
		t.Fatalf("the poisoned entry was not taken (exit %d, %q): the test injects nothing\n%s", code, b, stderr)
	}
	stdout, stderr, code := kilnRun(t, dir, nil, "verify", "--progress", "quiet", "--against-cache", "--cache-from", from, "stage.app")
	if code != 1 || !strings.Contains(stdout, "MISMATCH stage.app/run[0] ("+string(good)+")") ||
		!strings.Contains(stdout, "changed /out/word.txt") || !strings.Contains(stdout, "-evil") || !strings.Contains(stdout, "+good") ||
		!strings.Contains(stderr, "the cache's output of stage.app/run[0] ("+string(good)+") differs from a rebuild from nothing") {
		t.Errorf("a poisoned entry: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// dirSize is the bytes of the files under dir.
func dirSize(t *testing.T, dir string) int64 {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/rootless"
	"github.com/kiln-build/kiln/realize/overlay"
)

// Kind names a snapshotter: how a step's root is made from its layers.
type Kind string

const (
	// Overlay mounts the layers as an overlayfs stack (the default).
	Overlay Kind = "overlay"
	// Copy copies them into a private directory (Assemble, Diff).
	Copy Kind = "copy"
)

// EnvVar forces a snapshotter: "copy" or "overlay". Unset or empty, kiln
// uses overlayfs and copies only where the kernel refuses the mount.
const EnvVar = "KILN_SNAPSHOTTER"

var (
	mu      sync.Mutex
	chosen  Kind
	message string
)

// Choose returns the snapshotter for this process, deciding it on the
// first call (probing overlayfs in dir, a scratch directory on the store's
// filesystem), and the one line that says so when it is not overlayfs
// ("" otherwise). An explicit setting is never second-guessed: a forced
// "overlay" that the kernel refuses fails the steps with the kernel's
// error, never silently copies.
func Choose(dir string) (Kind, string, error) {
	mu.Lock()
	defer mu.Unlock()
	if chosen != "" {
		return chosen, message, nil
	}
	switch v := os.Getenv(EnvVar); v {
	case "overlay":
		chosen = Overlay
	case "copy":
		chosen, message = Copy, EnvVar+"=copy: the steps' roots are copies of their layers, not overlay mounts (slower)"
	case "":
		err := probe(dir)
		if err == nil {
			chosen = Overlay
			break
		}
		where := ""
		if rootless.InUserNS() {
			where = " in this user namespace"
		}
		chosen, message = Copy, fmt.Sprintf("overlay refused%s: copying layers instead (slower) (%v)", where, err)
	default:
		return "", "", fmt.Errorf("%s=%q: want copy or overlay (or unset: overlay, copying where it is refused)", EnvVar, v)
	}
	return chosen, message, nil
}

// reset forgets the choice (tests).
func reset() {
	mu.Lock()
	chosen, message = "", ""
	mu.Unlock()
}

// probe mounts a writable overlay of one layer, the shape of a step's
// root, with the options steps get, and reports the kernel's refusal.
func probe(dir string) error {
	p, err := os.MkdirTemp(dir, "overlay-probe-")
	if err != nil {
		return fmt.Errorf("probing overlayfs: %w", err)
	}
	defer os.RemoveAll(p)
	var lower, upper, work, target = filepath.Join(p, "l"), filepath.Join(p, "u"), filepath.Join(p, "w"), filepath.Join(p, "m")
	for _, d := range []string{lower, upper, work, target} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("probing overlayfs: %w", err)
		}
	}
	cfg := overlay.Config{Lowers: []string{lower}, Upper: upper, Work: work, Options: []string{"redirect_dir=off", "metacopy=off", "index=off"}}
	m, err := overlay.Detached(cfg)
	if err == nil {
		return m.Close()
	}
	if !errors.Is(err, overlay.ErrUnsupported) {
		return err
	}
	// An older kernel: mount(2), in a mount namespace of a thread that
	// ends here, so nothing stays mounted.
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			done <- err
			return
		}
		_ = unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, "")
		err := overlay.MountAt(target, cfg)
		if err == nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
		}
		done <- err
	}()
	return <-done
}

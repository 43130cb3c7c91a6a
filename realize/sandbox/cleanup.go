package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// ownerFile marks a directory as a sandbox's StateDir and names the
// process that owns it, so Cleanup touches nothing else and nothing that
// a live kiln still uses.
const ownerFile = "kiln-sandbox-owner"

// Cleanup removes what sandboxes of dead kiln processes left in the state
// directories directly under stateRoot: a kiln killed with SIGKILL takes
// its running steps down with it (parent-death signal), but may leave a
// root overlay still mounted (if it died while a step was starting), empty
// cgroups, and libcontainer's state. Directories owned by a live process,
// and anything that is not a sandbox state directory, are left alone, so
// it is safe while other kiln processes use the same root. Call it when
// opening the store.
func Cleanup(stateRoot string) error {
	entries, err := os.ReadDir(stateRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading sandbox state root: %w", err)
	}
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(stateRoot, e.Name())
		if !e.IsDir() || ownerAlive(dir) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, ownerFile)); err != nil {
			continue
		}
		errs = append(errs, cleanStateDir(dir))
	}
	return errors.Join(errs...)
}

func cleanStateDir(dir string) error {
	lc := filepath.Join(dir, stateSubdir)
	ids, _ := os.ReadDir(lc)
	var errs []error
	for _, id := range ids {
		c, err := libcontainer.Load(lc, id.Name())
		if errors.Is(err, libcontainer.ErrNotExist) {
			// Killed while starting, before libcontainer saved its state:
			// the cgroup may exist all the same.
			errs = append(errs, removeCgroup(id.Name()))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reading stale sandbox %s: %w", id.Name(), err))
			continue
		}
		_ = c.Signal(unix.SIGKILL)
		var derr error
		for i := 0; i < 100; i++ {
			if derr = c.Destroy(); !errors.Is(derr, libcontainer.ErrRunning) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if derr != nil {
			errs = append(errs, fmt.Errorf("removing stale sandbox %s: %w", id.Name(), derr))
		}
	}
	return errors.Join(append(errs, removeStateDir(dir))...)
}

// removeStateDir unmounts whatever is still mounted below dir, deepest
// first, and removes it; it refuses to remove a directory that still has a
// mount below it, since that would delete files through the mount.
// removeCgroup removes the cgroup Run would have made for id, killing what
// still runs in it. The path is relative to this process's own cgroup, as
// in Run, so it finds the cgroups of kiln processes started the same way.
func removeCgroup(id string) error {
	m, err := manager.New(cgroupConfig(id, &cgroups.Resources{}))
	if err != nil {
		return fmt.Errorf("removing stale sandbox cgroup: %w", err)
	}
	if !m.Exists() {
		return nil
	}
	pids, _ := m.GetAllPids()
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	var derr error
	for i := 0; i < 100; i++ {
		if derr = m.Destroy(); derr == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("removing stale sandbox cgroup: %w", derr)
}

func removeStateDir(dir string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return fmt.Errorf("reading mount table: %w", err)
	}
	slices.SortFunc(mounts, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
	for _, m := range mounts {
		if err := unmount(m.Mountpoint); err != nil {
			return fmt.Errorf("leaving %s in place: %w", dir, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing sandbox state: %w", err)
	}
	return nil
}

func writeOwner(dir string) error {
	start, err := processStart(os.Getpid())
	if err != nil {
		return fmt.Errorf("reading own start time: %w", err)
	}
	content := fmt.Sprintf("%d %d\n", os.Getpid(), start)
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(content), 0o600); err != nil {
		return fmt.Errorf("writing sandbox state owner: %w", err)
	}
	return nil
}

// ownerAlive says whether the process named in dir's owner file still
// runs; the start time tells a reused pid from the original.
func ownerAlive(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return false
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(data), "%d %d", &pid, &start); err != nil {
		return false
	}
	now, err := processStart(pid)
	return err == nil && now == start
}

// processStart is field 22 of /proc/PID/stat, the start time in clock
// ticks since boot.
func processStart(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after the last ')' are plain.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

package sandbox

import (
	"encoding/json"
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
		// Whether it is a sandbox's state first, then whether its owner
		// lives: the other way round, a run that marks its directory in
		// between would be taken for a dead one.
		if _, err := os.Stat(filepath.Join(dir, ownerFile)); err != nil || !e.IsDir() {
			continue
		}
		if ownerAlive(dir) {
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
			// the cgroup may exist all the same (removeCgroups below).
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
	// libcontainer's Destroy removes only the cgroups its state lists, and
	// there is no state for a container killed while starting: the record
	// Run wrote before creating any cgroup covers both.
	if err := removeCgroups(dir, ids); err != nil {
		// Keep the record, so that the next Cleanup tries again.
		errs = append(errs, err)
		return fmt.Errorf("leaving %s in place: %w", dir, errors.Join(errs...))
	}
	return errors.Join(append(errs, removeStateDir(dir))...)
}

// cgroupsFile, in a StateDir, records the cgroup directories of the run's
// container before they exist (see recordCgroups).
const cgroupsFile = "kiln-sandbox-cgroups"

// cgroupRecord is cgroupsFile's content.
type cgroupRecord struct {
	// ID is the container's.
	ID string `json:"id"`
	// Name is its cgroups' directory name (cgroupName); empty in the
	// records of kilns that named them "kiln-" + ID.
	Name string `json:"name,omitempty"`
	// Paths maps each controller ("" for cgroup v2) to its directory.
	Paths map[string]string `json:"paths"`
}

// name is the directory name r's cgroups must have; a recorded name that
// does not belong to r.ID counts for nothing.
func (r cgroupRecord) name() string {
	if rest, ok := strings.CutPrefix(r.Name, "kiln-"); ok && strings.HasSuffix(rest, "-"+r.ID) && !strings.Contains(rest, "/") {
		return r.Name
	}
	return "kiln-" + r.ID
}

// recordCgroups writes where the cgroups of container id will be, before
// libcontainer creates them. Cleanup cannot work this out itself: the
// paths are relative to the cgroups of the kiln that ran the step (which
// differ between processes, controller by controller), and libcontainer
// saves them in its state only once the container has started, while it
// creates them one controller at a time before that.
func recordCgroups(stateDir, id string) error {
	name := cgroupName(os.Getpid(), id)
	m, err := manager.New(cgroupConfig(name, &cgroups.Resources{}))
	if err != nil {
		return fmt.Errorf("finding the step's cgroups: %w", err)
	}
	data, err := json.Marshal(cgroupRecord{ID: id, Name: name, Paths: m.GetPaths()})
	if err != nil {
		return fmt.Errorf("recording the step's cgroups: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, cgroupsFile), data, 0o600); err != nil {
		return fmt.Errorf("recording the step's cgroups: %w", err)
	}
	return nil
}

// removeCgroups removes the cgroups recorded in stateDir, killing what
// still runs in them. Without a readable record (a kiln killed while
// writing it, before any cgroup existed, or a state directory from an
// older kiln) it falls back to the paths this process would give the
// containers in ids under the older kilns' names.
func removeCgroups(stateDir string, ids []os.DirEntry) error {
	var recs []cgroupRecord
	data, err := os.ReadFile(filepath.Join(stateDir, cgroupsFile))
	var rec cgroupRecord
	if err == nil && json.Unmarshal(data, &rec) == nil && rec.ID != "" {
		recs = append(recs, rec)
	} else {
		for _, id := range ids {
			m, err := manager.New(cgroupConfig("kiln-"+id.Name(), &cgroups.Resources{}))
			if err != nil {
				return fmt.Errorf("removing stale sandbox cgroup: %w", err)
			}
			recs = append(recs, cgroupRecord{ID: id.Name(), Paths: m.GetPaths()})
		}
	}
	var errs []error
	for _, r := range recs {
		errs = append(errs, removeCgroupPaths(r))
	}
	return errors.Join(errs...)
}

// removeCgroupPaths removes r's cgroup directories, each on its own: a
// kiln killed while libcontainer created or removed them (one controller
// at a time) leaves only some. It touches only directories named for the
// container on a cgroup filesystem, so a corrupt record cannot make it
// remove anything else.
func removeCgroupPaths(r cgroupRecord) error {
	want := r.name()
	paths := map[string]string{}
	for ctrl, p := range r.Paths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if !filepath.IsAbs(p) || filepath.Clean(p) != p || filepath.Base(p) != want || !onCgroupFS(filepath.Dir(p)) {
			return fmt.Errorf("removing stale sandbox cgroup: refusing recorded path %q, which is not a cgroup of %s", p, r.ID)
		}
		paths[ctrl] = p
	}
	var err error
	for i := 0; i < 100; i++ {
		for _, p := range paths {
			procs, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for _, f := range strings.Fields(string(procs)) {
				if pid, perr := strconv.Atoi(f); perr == nil && pid > 0 {
					_ = unix.Kill(pid, unix.SIGKILL)
				}
			}
		}
		// RemovePaths drops what it removed (or found missing) from paths.
		if err = cgroups.RemovePaths(paths); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("removing stale sandbox cgroup: %w", err)
}

// onCgroupFS says whether dir is on a cgroup (v1 or v2) filesystem.
func onCgroupFS(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == unix.CGROUP_SUPER_MAGIC || st.Type == unix.CGROUP2_SUPER_MAGIC
}

// removeStateDir unmounts whatever is still mounted below dir, deepest
// first, and removes it; it refuses to remove a directory that still has a
// mount below it, since that would delete files through the mount.
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
	// Written under another name and renamed: another kiln's Cleanup that
	// read the owner file between its creation and its content would take
	// the live run for a dead one and remove its state.
	tmp := filepath.Join(dir, ownerFile+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("writing sandbox state owner: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ownerFile)); err != nil {
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

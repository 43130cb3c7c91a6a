package sandbox

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
)

// staleStateDir makes a state directory as a kiln killed while starting
// container id leaves it: a dead owner, libcontainer's directory for the
// container without its state, and (with record) the cgroup record.
func staleStateDir(t *testing.T, root, id string, record bool) string {
	t.Helper()
	dir := filepath.Join(root, "run-"+id)
	if err := os.MkdirAll(filepath.Join(dir, stateSubdir, id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte("999999999 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if record {
		if err := recordCgroups(dir, id); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func recorded(t *testing.T, dir string) cgroupRecord {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, cgroupsFile))
	if err != nil {
		t.Fatal(err)
	}
	var r cgroupRecord
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func mkCgroup(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeEmptyCgroup(p) })
}

// removeEmptyCgroup removes p and its parents up to the first that is
// not one this test made (they are named kiln-test-*).
func removeEmptyCgroup(p string) {
	for ; strings.HasPrefix(filepath.Base(p), "kiln-"); p = filepath.Dir(p) {
		os.Remove(p)
	}
}

// TestCleanupKilledWhileStarting: libcontainer creates a container's
// cgroups one controller at a time (cpuset first) before it saves any
// state, so a kiln killed in between leaves some cgroups and no state.
// Cleanup must remove each of them; it used to look only at the devices
// cgroup and, finding none, leave an empty cpuset cgroup behind.
func TestCleanupKilledWhileStarting(t *testing.T) {
	testutil.RequireRoot(t)
	for _, withRecord := range []bool{true, false} {
		root := t.TempDir()
		id := "kiln-cleanup-starting"
		if !withRecord {
			id += "-norecord"
		}
		dir := staleStateDir(t, root, id, withRecord)
		var paths map[string]string
		if withRecord {
			paths = recorded(t, dir).Paths
		} else {
			// A state directory from before the record, when cgroups were
			// named "kiln-" + ID: Cleanup works out the paths from its own
			// cgroups, as this process does.
			paths = recordedFor(t, id)
			for ctrl, p := range paths {
				paths[ctrl] = filepath.Join(filepath.Dir(p), "kiln-"+id)
			}
		}
		first, ok := paths["cpuset"]
		if !ok {
			for _, p := range paths {
				first = p
				break
			}
		}
		if first == "" {
			t.Skip("no cgroup controller is mounted")
		}
		mkCgroup(t, first)
		if err := Cleanup(root); err != nil {
			t.Fatalf("record %v: Cleanup: %v", withRecord, err)
		}
		if _, err := os.Stat(first); !os.IsNotExist(err) {
			t.Errorf("record %v: cgroup %s left behind (%v)", withRecord, first, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("record %v: state dir left behind (%v)", withRecord, err)
		}
	}
}

func recordedFor(t *testing.T, id string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	if err := recordCgroups(dir, id); err != nil {
		t.Fatal(err)
	}
	return recorded(t, dir).Paths
}

// TestCleanupUsesRecordedCgroups: a cgroup path is relative to the
// cgroup of the kiln that ran the step, which need not be the one that
// cleans up. Cleanup must remove the recorded cgroups, wherever they are.
func TestCleanupUsesRecordedCgroups(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	id := "kiln-cleanup-elsewhere"
	dir := staleStateDir(t, root, id, true)
	rec := recorded(t, dir)
	moved := map[string]string{}
	for ctrl, p := range rec.Paths {
		// As if that kiln had run in a sub-cgroup of this process's.
		moved[ctrl] = filepath.Join(filepath.Dir(p), "kiln-test-"+id, filepath.Base(p))
		mkCgroup(t, moved[ctrl])
	}
	if len(moved) == 0 {
		t.Skip("no cgroup controller is mounted")
	}
	rec.Paths = moved
	data, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(dir, cgroupsFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Cleanup(root); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	for _, p := range moved {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind (%v)", p, err)
		}
	}
}

// TestCleanupRefusesForeignPaths: a corrupt or planted record must not
// make Cleanup remove anything that is not the container's cgroup, and
// the state directory stays so that nothing is forgotten.
func TestCleanupRefusesForeignPaths(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	id := "kiln-cleanup-foreign"
	dir := staleStateDir(t, root, id, false)
	victims := []string{
		filepath.Join(t.TempDir(), "kiln-"+id), // right name, not a cgroup
		t.TempDir(),                            // wrong name
	}
	for _, v := range victims {
		os.MkdirAll(v, 0o755)
		data, _ := json.Marshal(cgroupRecord{ID: id, Paths: map[string]string{"x": v}})
		if err := os.WriteFile(filepath.Join(dir, cgroupsFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Cleanup(root); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("%s: Cleanup: %v, want a refusal", v, err)
		}
		if _, err := os.Stat(v); err != nil {
			t.Errorf("Cleanup removed %s: %v", v, err)
		}
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("Cleanup removed the state dir whose cgroups it could not remove: %v", err)
		}
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestSweepCgroups: cgroups named for a dead kiln are removed, with what
// still runs in them, by any kiln, whatever store either used; those of a
// live kiln and directories kiln did not name this way stay.
func TestSweepCgroups(t *testing.T) {
	testutil.RequireRoot(t)
	dead := cgroupName(deadPID(t), "kiln-sweep-test")
	keep := []string{cgroupName(os.Getpid(), "kiln-sweep-test"), "kiln-kiln-sweep-test", "kiln-x1-sweep-test", "kiln-01-sweep-test"}
	paths := recordedFor(t, "x")
	if len(paths) == 0 {
		t.Skip("no cgroup controller is mounted")
	}
	var deadDirs, keepDirs []string
	var procsDir string // where the orphan goes: not cpuset, which needs cpus set first
	for ctrl, p := range paths {
		deadDirs = append(deadDirs, filepath.Join(filepath.Dir(p), dead))
		for _, k := range keep {
			keepDirs = append(keepDirs, filepath.Join(filepath.Dir(p), k))
		}
		if ctrl == "pids" || (ctrl == "" && procsDir == "") {
			procsDir = filepath.Join(filepath.Dir(p), dead)
		}
	}
	if procsDir == "" {
		t.Skip("neither a pids nor a cgroup v2 hierarchy")
	}
	for _, d := range append(slices.Clone(deadDirs), keepDirs...) {
		mkCgroup(t, d)
	}
	// A step that outlived its kiln.
	orphan := exec.Command("sleep", "100")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	defer orphan.Process.Kill()
	if err := os.WriteFile(filepath.Join(procsDir, "cgroup.procs"), []byte(strconv.Itoa(orphan.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- orphan.Wait() }()

	stale, err := StaleCgroups()
	if err != nil {
		t.Fatal(err)
	}
	var found *StaleCgroup
	for i := range stale {
		if stale[i].Name == dead {
			found = &stale[i]
		}
		if slices.Contains(keep, stale[i].Name) {
			t.Errorf("StaleCgroups lists %s", stale[i].Name)
		}
	}
	if found == nil || len(found.Paths) != len(deadDirs) {
		t.Fatalf("StaleCgroups = %+v, want %s in %d hierarchies", stale, dead, len(deadDirs))
	}
	removed, err := SweepCgroups()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(removed, func(s StaleCgroup) bool { return s.Name == dead }) {
		t.Errorf("SweepCgroups removed %+v, not %s", removed, dead)
	}
	for _, d := range deadDirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", d, err)
		}
	}
	for _, d := range keepDirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("SweepCgroups removed %s: %v", d, err)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the process in the stale cgroup still runs")
	}
}

// TestCleanupSparesStateBeingMarked: another kiln's Cleanup running while
// this one marks its new state directories never takes one for a dead
// kiln's (it did when it read an owner file created but not yet written).
func TestCleanupSparesStateBeingMarked(t *testing.T) {
	root := t.TempDir()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_ = Cleanup(root)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	// A race, so a bounded number of tries: on the old code this failed
	// within a few hundred to a few thousand.
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; i < 5000 && time.Now().Before(deadline); i++ {
		dir := filepath.Join(root, "run-"+strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := writeOwner(dir); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, ownerFile)); err != nil {
			t.Fatalf("run %d: a concurrent Cleanup removed a live run's state: %v", i, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
}

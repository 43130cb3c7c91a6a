package sandbox

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"golang.org/x/sys/unix"
)

// StaleCgroup is the cgroup of a step whose kiln died, in each hierarchy.
type StaleCgroup struct {
	// Name is the directory name, kiln-PID-ID.
	Name string
	// PID is the kiln that ran the step, which no longer runs.
	PID int
	// Paths are its directories, one per hierarchy (cgroup v1 has one per
	// controller).
	Paths []string

	rec cgroupRecord
}

// StaleCgroups lists the cgroups that steps of dead kiln processes left
// where this process makes its own: below its cgroup, in each hierarchy.
// Cleanup finds a killed kiln's cgroups through its store's state
// directory, so a kiln killed in a store that is never used again (a CI
// job's temporary store) left them forever; the pid in their names lets
// any kiln find them. Cgroups of live kilns, and directories not named as
// kiln names them, are left alone.
func StaleCgroups() ([]StaleCgroup, error) {
	m, err := manager.New(cgroupConfig(cgroupName(os.Getpid(), "probe"), &cgroups.Resources{}))
	if err != nil {
		return nil, fmt.Errorf("finding kiln's cgroups: %w", err)
	}
	byName := map[string]*StaleCgroup{}
	for ctrl, p := range m.GetPaths() {
		parent := filepath.Dir(p)
		ents, err := os.ReadDir(parent)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing cgroups: %w", err)
		}
		for _, e := range ents {
			pid, id, ok := parseCgroupName(e.Name())
			if !e.IsDir() || !ok || alive(pid) {
				continue
			}
			sc := byName[e.Name()]
			if sc == nil {
				sc = &StaleCgroup{Name: e.Name(), PID: pid, rec: cgroupRecord{ID: id, Name: e.Name(), Paths: map[string]string{}}}
				byName[e.Name()] = sc
			}
			sc.rec.Paths[ctrl] = filepath.Join(parent, e.Name())
		}
	}
	var out []StaleCgroup
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		sc := byName[name]
		sc.Paths = slices.Sorted(maps.Values(sc.rec.Paths))
		out = append(out, *sc)
	}
	return out, nil
}

// SweepCgroups removes what StaleCgroups finds, killing any process still
// in it, and returns what it removed.
func SweepCgroups() ([]StaleCgroup, error) {
	stale, err := StaleCgroups()
	if err != nil {
		return nil, err
	}
	var removed []StaleCgroup
	var errs []error
	for _, sc := range stale {
		if err := removeCgroupPaths(sc.rec); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, sc)
	}
	return removed, errors.Join(errs...)
}

// parseCgroupName reads cgroupName's kiln-PID-ID.
func parseCgroupName(name string) (pid int, id string, ok bool) {
	rest, ok := strings.CutPrefix(name, "kiln-")
	if !ok {
		return 0, "", false
	}
	p, id, ok := strings.Cut(rest, "-")
	if !ok || id == "" {
		return 0, "", false
	}
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 || strconv.Itoa(pid) != p {
		return 0, "", false
	}
	return pid, id, true
}

// alive says whether process pid exists. A pid reused by another process
// counts as alive: its kiln's cgroups then wait for a later sweep, which is
// safe, where taking a live kiln's would kill its steps.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

package main

import (
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// copySnapshotterScripts run again with the copy snapshotter forced
// (KILN_SNAPSHOTTER=copy): builds, mounts and goldens behave as they do on
// overlayfs. snapshot_copy compares the two snapshotters' digests.
var copySnapshotterScripts = []string{"build", "mounts", "golden_check", "layers_repeated", "user_nonroot"}

func copySnapshotterFiles() []string {
	var files []string
	for _, s := range copySnapshotterScripts {
		files = append(files, filepath.Join("testdata", "script", s+".txtar"))
	}
	return files
}

// TestScriptsCopySnapshotter runs copySnapshotterScripts as root with the
// layers copied instead of mounted.
func TestScriptsCopySnapshotter(t *testing.T) {
	forceSnapshotter(t, "copy")
	testscript.Run(t, testscript.Params{
		Files:     copySnapshotterFiles(),
		Condition: condition,
		Cmds:      scriptCmds,
		Setup:     scriptSetup,
	})
}

// TestScriptsRootlessCopySnapshotter runs them, and snapshot_copy, as the
// unprivileged test user with the layers copied.
func TestScriptsRootlessCopySnapshotter(t *testing.T) {
	saved := rootlessScripts
	rootlessScripts = append(append([]string(nil), copySnapshotterScripts...), "snapshot_copy")
	defer func() { rootlessScripts = saved }()
	forceSnapshotter(t, "copy")
	TestScriptsRootless(t)
}

// forcedSnapshotter is KILN_SNAPSHOTTER in every script's environment
// while set (testscript gives scripts none of the test's).
var forcedSnapshotter string

func forceSnapshotter(t *testing.T, kind string) {
	forcedSnapshotter = kind
	t.Cleanup(func() { forcedSnapshotter = "" })
}

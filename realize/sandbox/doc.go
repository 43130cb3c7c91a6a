// Package sandbox runs one build step in a libcontainer container: the
// isolation that makes a step's output depend only on its declared inputs.
//
// It owns everything between "here is a command, its root filesystem
// layers and its mounts" and "here is its exit code, and its changes are in
// Upper": the overlay root filesystem, the libcontainer configuration
// (namespaces, devices, capabilities, masked paths, cgroup limits), the time
// limit, and the cleanup of mounts, cgroups and state on every path,
// including a kiln process that was killed (see Cleanup).
//
// The kiln binary itself is the container's init: libcontainer re-executes
// /proc/self/exe with the argument "init", so every program that calls Run
// must call Init first thing (see Init).
//
// What a step's Upper directory may contain that the step did not write
// itself: nothing from the sandbox's own mount points (they live in a
// per-run skeleton layer below the step's layers, see Run), the working
// directory when it did not exist (created inside the container, so it is
// deterministic), and overlayfs's own metadata (whiteouts as 0/0 character
// devices, trusted.overlay.* xattrs on opaque directories and copied-up
// files), which the realizer's normalization turns into its canonical form.
// Where overlayfs is refused (or KILN_SNAPSHOTTER=copy), the root is a copy
// of the layers in Work instead, and Run writes the same kind of Upper by
// comparing it with the copy after the step (see realize/snapshot).
package sandbox

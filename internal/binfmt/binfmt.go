// Package binfmt finds out which platforms this machine can run: its own,
// and those whose ELF executables a binfmt_misc handler (Debian's
// qemu-user-static, registered by binfmt-support) hands to an emulator.
//
// The answer comes from the kernel's table, /proc/sys/fs/binfmt_misc, read
// the way the kernel matches it: a handler serves an architecture when it
// is enabled and its magic, under its mask, matches that architecture's
// ELF header (for both fixed-address and position-independent
// executables). A handler's name is never trusted: "qemu-aarch64" that
// matches nothing serves nothing, and a handler named otherwise that
// matches the header serves it.
//
// A handler must also carry the F (fix-binary) flag. Without it the kernel
// looks the emulator up by path at each exec, inside the sandbox's mount
// namespace, where the step's root has no /usr/bin/qemu-*: the step would
// fail with "no such file". With it the kernel opened the emulator when it
// was registered and uses that file whatever the root.
//
// kiln never runs a step under a platform it cannot run: Check's error
// says which Debian packages to install and which command enables what is
// there, and nothing falls back to running the step another way.
package binfmt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/internal/platform"
)

// DefaultDir is where binfmt_misc is mounted.
const DefaultDir = "/proc/sys/fs/binfmt_misc"

// EnvDir names another directory to read instead of DefaultDir: a machine
// that mounts binfmt_misc elsewhere, and tests that hide the handlers (an
// empty directory is a machine without binfmt_misc).
const EnvDir = "KILN_BINFMT_MISC"

// Dir is the binfmt_misc directory kiln reads: EnvDir, else DefaultDir.
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	return DefaultDir
}

// Entry is one registered handler, as its file in binfmt_misc shows it.
type Entry struct {
	Name        string
	Enabled     bool
	Interpreter string
	// Flags are the registration's flags (P, O, C, F).
	Flags string
	// Offset, Magic and Mask describe a magic handler; Extension is set
	// for a handler by file name extension instead, which never serves
	// an ELF executable as such.
	Offset    int
	Magic     []byte
	Mask      []byte
	Extension string
}

// Fixed reports whether the kernel opened the interpreter at registration
// (flag F), so it works inside any root.
func (e Entry) Fixed() bool { return strings.Contains(e.Flags, "F") }

// matches is the kernel's test (fs/binfmt_misc.c): the bytes at offset,
// under the mask, equal the magic under the mask.
func (e Entry) matches(header []byte) bool {
	if e.Extension != "" || len(e.Magic) == 0 || e.Offset < 0 || e.Offset+len(e.Magic) > len(header) {
		return false
	}
	for i, m := range e.Magic {
		mask := byte(0xff)
		if i < len(e.Mask) {
			mask = e.Mask[i]
		}
		if header[e.Offset+i]&mask != m&mask {
			return false
		}
	}
	return true
}

// Machine is what this machine runs: its own platform natively, others
// through the handlers of its binfmt_misc table.
type Machine struct {
	// Host is the platform the machine runs natively.
	Host platform.Platform
	// Dir is the binfmt_misc directory read.
	Dir string
	// Mounted says Dir holds a binfmt_misc table (its status file).
	Mounted bool
	// Enabled is the table's status: when false, the kernel uses none of
	// its handlers.
	Enabled bool
	// Entries are the registered handlers, by name.
	Entries []Entry
}

// Detect reads the binfmt_misc table in dir for a machine whose own
// platform is host. A dir without a table (not mounted, or hidden by a
// test) is a machine that runs only host; an unreadable or malformed
// handler file is an error naming it.
func Detect(host platform.Platform, dir string) (*Machine, error) {
	m := &Machine{Host: host, Dir: dir}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the binfmt_misc table: %w", err)
	}
	m.Mounted = true
	m.Enabled = strings.TrimSpace(string(status)) == "enabled"
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the binfmt_misc table: %w", err)
	}
	for _, de := range des {
		if n := de.Name(); n == "status" || n == "register" || de.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading the binfmt_misc table: %w", err)
		}
		e, err := ParseEntry(de.Name(), b)
		if err != nil {
			return nil, fmt.Errorf("binfmt_misc handler %s: %w", filepath.Join(dir, de.Name()), err)
		}
		m.Entries = append(m.Entries, e)
	}
	return m, nil
}

// ParseEntry reads a handler's file as the kernel writes it
// (fs/binfmt_misc.c, entry_status): "enabled" or "disabled", then
// "interpreter PATH", "flags: FLAGS", and either "offset N", "magic HEX"
// and an optional "mask HEX", or "extension .EXT". Lines it does not know
// are skipped, as a newer kernel may add some.
func ParseEntry(name string, b []byte) (Entry, error) {
	e := Entry{Name: name}
	sc := bufio.NewScanner(bytes.NewReader(b))
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			switch line {
			case "enabled":
				e.Enabled = true
				continue
			case "disabled":
				continue
			default:
				return Entry{}, fmt.Errorf("first line %q is neither enabled nor disabled", line)
			}
		}
		key, val, _ := strings.Cut(line, " ")
		var err error
		switch key {
		case "interpreter":
			e.Interpreter = val
		case "flags:":
			e.Flags = val
		case "offset":
			if e.Offset, err = strconv.Atoi(val); err != nil || e.Offset < 0 || e.Offset > 127 {
				return Entry{}, fmt.Errorf("offset %q is not a number from 0 to 127", val)
			}
		case "magic":
			if e.Magic, err = hex.DecodeString(val); err != nil || len(e.Magic) == 0 {
				return Entry{}, fmt.Errorf("magic %q is not hexadecimal bytes", val)
			}
		case "mask":
			if e.Mask, err = hex.DecodeString(val); err != nil {
				return Entry{}, fmt.Errorf("mask %q is not hexadecimal bytes", val)
			}
		case "extension":
			e.Extension = val
		}
	}
	if first {
		return Entry{}, errors.New("the file is empty")
	}
	if e.Mask != nil && len(e.Mask) != len(e.Magic) {
		return Entry{}, fmt.Errorf("mask has %d bytes and magic %d", len(e.Mask), len(e.Magic))
	}
	return e, nil
}

// elfArch is how an architecture's executables begin: ELF class, byte
// order and machine number, with the name of Debian's qemu-user-static
// emulator for it.
type elfArch struct {
	class64   bool
	bigEndian bool
	machine   uint16
	qemu      string
}

// elfArches are the architectures, by their normalised OCI name, that kiln
// can say anything about.
var elfArches = map[string]elfArch{
	"amd64":    {true, false, 62, "x86_64"},
	"386":      {false, false, 3, "i386"},
	"arm64":    {true, false, 183, "aarch64"},
	"arm":      {false, false, 40, "arm"},
	"ppc64le":  {true, false, 21, "ppc64le"},
	"ppc64":    {true, true, 21, "ppc64"},
	"s390x":    {true, true, 22, "s390x"},
	"riscv64":  {true, false, 243, "riscv64"},
	"mips64le": {true, false, 8, "mips64el"},
	"mips64":   {true, true, 8, "mips64"},
	"mipsle":   {false, false, 8, "mipsel"},
	"mips":     {false, true, 8, "mips"},
	"loong64":  {true, false, 258, "loongarch64"},
}

// header is the start of an executable of a, of type typ: 2 for a
// fixed-address executable, 3 for a position-independent one. Its fields
// past e_machine are zero, e_flags included, which is the ABI Debian's
// qemu-mips and qemu-mipsel ask for (o32, not n32) in their 37-byte magic.
func (a elfArch) header(typ uint16) []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 1, 1, 1
	if a.class64 {
		h[4] = 2
	}
	var order binary.ByteOrder = binary.LittleEndian
	if a.bigEndian {
		h[5] = 2
		order = binary.BigEndian
	}
	order.PutUint16(h[16:], typ)
	order.PutUint16(h[18:], a.machine)
	return h
}

// Emulator returns the handler that runs p's executables: the first
// enabled one, by name, whose magic matches both kinds of ELF executable
// of p's architecture. ok is false when there is none (or the table is
// disabled as a whole).
func (m *Machine) Emulator(p platform.Platform) (Entry, bool) {
	a, known := elfArches[platform.Normalize(p).Architecture]
	if !known || !m.Enabled {
		return Entry{}, false
	}
	for _, e := range m.Entries {
		if e.Enabled && e.matches(a.header(2)) && e.matches(a.header(3)) {
			return e, true
		}
	}
	return Entry{}, false
}

// Native reports whether p is the machine's own operating system and
// architecture (a variant is the CPU's business: the kernel refuses what
// it cannot run).
func (m *Machine) Native(p platform.Platform) bool { return platform.SameArch(p, m.Host) }

// Check returns nil when the machine can run p's executables, natively or
// through an emulator that works inside a sandbox, and otherwise an error
// that says what is missing and what to install or run.
func (m *Machine) Check(p platform.Platform) error {
	if m.Native(p) {
		return nil
	}
	if p.OS != m.Host.OS {
		return fmt.Errorf("this machine runs %s and cannot run %s programs: binfmt_misc emulates other architectures, not other operating systems; build it on a %s machine", platform.Format(m.Host), p.OS, p.OS)
	}
	arch := platform.Normalize(p).Architecture
	a, known := elfArches[arch]
	if !known {
		return fmt.Errorf("this machine runs %s and kiln knows no ELF header for architecture %s to look for an emulator; build %s on a machine of that architecture", platform.Format(m.Host), p.Architecture, platform.Format(p))
	}
	// The kernel takes the first enabled handler that matches, in an
	// order kiln cannot see: every one of them must work in a sandbox.
	e, ok := m.Emulator(p)
	for _, o := range m.Entries {
		if o.Enabled && !o.Fixed() && o.matches(a.header(2)) && o.matches(a.header(3)) {
			e = o
		}
	}
	if ok && e.Fixed() {
		return nil
	}
	install := "install Debian's qemu-user-static and binfmt-support (apt-get install qemu-user-static binfmt-support), which register qemu-" + a.qemu + " with binfmt_misc"
	what := fmt.Sprintf("this machine runs %s and cannot run %s programs", platform.Format(m.Host), platform.Format(p))
	switch {
	case ok:
		return fmt.Errorf("%s inside a sandbox: the binfmt_misc handler %s (%s) lacks the F (fix-binary) flag, so the kernel would look for it inside the step's root; register it with F: update-binfmts --disable %s, echo -1 >%s, then register it again with fix_binary yes (Debian's qemu-user-static does: update-binfmts --import qemu-%s)", what, e.Name, e.Interpreter, e.Name, filepath.Join(m.Dir, e.Name), a.qemu)
	case !m.Mounted:
		return fmt.Errorf("%s: binfmt_misc is not mounted at %s, so no emulator is registered; mount it (mount -t binfmt_misc binfmt_misc %s), then %s (if they are installed: update-binfmts --enable qemu-%s)", what, m.Dir, m.Dir, install, a.qemu)
	case !m.Enabled:
		return fmt.Errorf("%s: binfmt_misc at %s is disabled as a whole; enable it (echo 1 >%s)", what, m.Dir, filepath.Join(m.Dir, "status"))
	}
	for _, e := range m.Entries {
		if !e.Enabled && e.matches(a.header(2)) && e.matches(a.header(3)) {
			return fmt.Errorf("%s: the binfmt_misc handler %s for it is disabled; enable it (update-binfmts --enable %s, or echo 1 >%s)", what, e.Name, e.Name, filepath.Join(m.Dir, e.Name))
		}
	}
	return fmt.Errorf("%s: no binfmt_misc handler in %s runs %s executables; %s (if they are installed: update-binfmts --enable qemu-%s), or build %s on a machine of that architecture", what, m.Dir, arch, install, a.qemu, platform.Format(p))
}

// Platforms lists what the machine runs, the host first, then every
// architecture a usable handler emulates, in name order, as linux/ARCH.
func (m *Machine) Platforms() []string {
	out := []string{platform.Format(m.Host)}
	var emu []string
	for arch := range elfArches {
		p := platform.Platform{OS: "linux", Architecture: arch}
		if m.Native(p) {
			continue
		}
		if m.Check(p) == nil {
			emu = append(emu, platform.Format(p))
		}
	}
	slices.Sort(emu)
	return append(out, emu...)
}

package realize

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxAccountFile bounds what kiln reads of a state's /etc/passwd or
// /etc/group: they come from the build, not from kiln.
const maxAccountFile = 4 << 20

// lookupOwner resolves a chown's "user[:group]" in the state the file op
// writes on, as BuildKit resolves COPY --chown=name: a user name gives
// its uid and primary gid from /etc/passwd, a group name its gid from
// /etc/group, a numeric part is taken as it is (a numeric user alone
// also gives its gid). The files are read inside the state, their
// symlinks resolved as a chrooted process would: nothing of the host's
// is ever consulted.
func (f *fileApplier) lookupOwner(owner string) (uid, gid int, err error) {
	u, g, hasG := strings.Cut(owner, ":")
	if n, err := strconv.Atoi(u); err == nil {
		uid, gid = n, n
	} else {
		passwd, err := f.readAccountFile("/etc/passwd")
		if err != nil {
			return 0, 0, fmt.Errorf("chown %q: %w", owner, err)
		}
		var ok bool
		if uid, gid, ok = findAccount(passwd, u, true); !ok {
			return 0, 0, fmt.Errorf("chown %q: there is no user %q in the state's /etc/passwd; use a numeric uid, or add the user in an earlier step", owner, u)
		}
	}
	if !hasG {
		return uid, gid, nil
	}
	if n, err := strconv.Atoi(g); err == nil {
		return uid, n, nil
	}
	group, err := f.readAccountFile("/etc/group")
	if err != nil {
		return 0, 0, fmt.Errorf("chown %q: %w", owner, err)
	}
	gid, _, ok := findAccount(group, g, false)
	if !ok {
		return 0, 0, fmt.Errorf("chown %q: there is no group %q in the state's /etc/group; use a numeric gid, or add the group in an earlier step", owner, g)
	}
	return uid, gid, nil
}

// readAccountFile reads p (an absolute path in the state) from the base
// view or the upper, following its symlinks inside the state only.
func (f *fileApplier) readAccountFile(p string) ([]byte, error) {
	rp, err := f.resolve(p, true)
	if err != nil {
		return nil, fmt.Errorf("reading the state's %s: %w", p, err)
	}
	fi, inUpper, err := f.lstat(rp)
	if err != nil {
		return nil, fmt.Errorf("the state has no %s to look names up in (%v); use numeric ids", p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("the state's %s is not a regular file; use numeric ids", p)
	}
	root := f.base
	if inUpper {
		root = f.upper
	}
	// lstat saw real directories above rp and a regular file at it, and
	// O_NOFOLLOW refuses a link put there since.
	file, err := os.OpenFile(filepath.Join(root, rp), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("reading the state's %s: %w", p, err)
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, maxAccountFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading the state's %s: %w", p, err)
	}
	if len(b) > maxAccountFile {
		return nil, fmt.Errorf("the state's %s is larger than %d bytes", p, maxAccountFile)
	}
	return b, nil
}

// findAccount finds name in a passwd (withGID: name:pw:uid:gid:...) or
// group (name:pw:gid:...) file and returns its id and, for passwd, its
// primary gid. The first entry wins, as getpwnam's does.
func findAccount(file []byte, name string, withGID bool) (id, gid int, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(file))
	sc.Buffer(make([]byte, 0, 4096), maxAccountFile)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 || fields[0] != name {
			continue
		}
		id, err := strconv.Atoi(fields[2])
		if err != nil || id < 0 {
			continue
		}
		if !withGID {
			return id, 0, true
		}
		if len(fields) < 4 {
			continue
		}
		gid, err := strconv.Atoi(fields[3])
		if err != nil || gid < 0 {
			continue
		}
		return id, gid, true
	}
	return 0, 0, false
}

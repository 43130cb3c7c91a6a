package sandbox

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPrivileges(t *testing.T) {
	for _, tc := range []struct {
		euid int
		caps uint64
		want string
	}{
		{0, 1 << capSysAdmin, ""},
		{1000, 1 << capSysAdmin, "kiln needs root to run build steps in a sandbox (namespaces, overlayfs, cgroups); run as root, e.g. with sudo"},
		{0, 0, "without CAP_SYS_ADMIN"},
	} {
		err := checkPrivileges(tc.euid, tc.caps)
		if tc.want == "" {
			if err != nil {
				t.Errorf("euid %d caps %x: %v", tc.euid, tc.caps, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrPrivileges) {
			t.Errorf("euid %d caps %x: err %v, want ErrPrivileges saying %q", tc.euid, tc.caps, err, tc.want)
		}
	}
}

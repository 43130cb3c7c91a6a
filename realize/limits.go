package realize

import (
	"fmt"
	"strings"
	"time"

	"github.com/kiln-build/kiln/compiler"
	"github.com/kiln-build/kiln/realize/executor"
	"github.com/kiln-build/kiln/realize/sandbox"
)

// DefaultLimits are the limits of a step that sets none, and that
// Options.Limits does not set either: a runaway step on a CI host must hit
// its own limit, not take the host down. There is no default time limit:
// how long a step may take depends on the machine more than on the step.
func DefaultLimits() compiler.Limits {
	return compiler.Limits{MemoryBytes: sandbox.DefaultMemoryBytes(), Pids: sandbox.DefaultPids}
}

// limitError explains a step that a limit stopped: which limit, its value,
// whether it is kiln's default, and the setting that raises it. It is nil
// when no limit is to blame.
func limitError(args []string, res executor.Result, lim, own compiler.Limits) error {
	cmd := quoteArgs(args)
	switch {
	case res.TimedOut:
		d := time.Duration(lim.TimeoutSec) * time.Second
		return fmt.Errorf("command %s was killed: time limit %s%s reached; set timeout = %q on the step or stage to raise it",
			cmd, shortDuration(d), defaultNote(own.TimeoutSec), shortDuration(2*d))
	case res.OOMKilled:
		return fmt.Errorf("command %s was killed: memory limit %s%s reached; set memory = %q on the step or stage to raise it",
			cmd, humanBytes(lim.MemoryBytes), defaultNote(own.MemoryBytes), sizeSetting(2*lim.MemoryBytes))
	case res.PidsLimitHit && res.ExitCode != 0:
		return fmt.Errorf("command %s exited with code %d: the step hit its pids limit of %d processes and threads%s; set pids = %d on the step or stage to raise it",
			cmd, res.ExitCode, lim.Pids, defaultNote(own.Pids), 2*lim.Pids)
	}
	return nil
}

// defaultNote marks a limit the step did not set itself.
func defaultNote(own int64) string {
	if own == 0 {
		return " (kiln's default)"
	}
	return ""
}

// humanBytes shows n in the binary units build.hcl sizes use.
func humanBytes(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	if n < 1<<10 {
		return fmt.Sprintf("%d bytes", n)
	}
	f, u := float64(n)/(1<<10), 0
	for f >= 1<<10 && u < len(units)-1 {
		f /= 1 << 10
		u++
	}
	s := strings.TrimSuffix(fmt.Sprintf("%.1f", f), ".0")
	return s + " " + units[u]
}

// sizeSetting is n rounded up to a whole "m" or "g", as written in build.hcl.
func sizeSetting(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dg", (n+1<<30-1)>>30)
	}
	return fmt.Sprintf("%dm", (n+1<<20-1)>>20)
}

// shortDuration is Go's duration syntax without zero minutes and seconds.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

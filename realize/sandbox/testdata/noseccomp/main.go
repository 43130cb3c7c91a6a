// noseccomp runs one default and one insecure step through sandbox.Run and
// prints how each ended. TestUnfilteredKilnRefusesSteps builds it without
// the seccomp build tag, as a kiln built with plain `go build` would be.
//
// Usage: noseccomp LOWER TMPDIR
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kiln-build/kiln/realize/sandbox"
)

func init() { sandbox.Init() }

func main() {
	lower, tmp := os.Args[1], os.Args[2]
	for i, insecure := range []bool{false, true} {
		name := map[bool]string{false: "default", true: "insecure"}[insecure]
		dir := filepath.Join(tmp, name)
		upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
		for _, d := range []string{upper, work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
		}
		res, err := sandbox.Run(context.Background(), sandbox.Spec{
			ID: fmt.Sprintf("noseccomp-%d-%d", os.Getpid(), i), Lowers: []string{lower},
			Upper: upper, Work: work, StateDir: filepath.Join(dir, "state"),
			Args: []string{"true"}, Env: []string{"PATH=/bin"}, Insecure: insecure,
			Stdout: os.Stdout, Stderr: os.Stderr,
		})
		switch {
		case errors.Is(err, sandbox.ErrNoSeccomp):
			fmt.Printf("%s: ErrNoSeccomp: %v\n", name, err)
		case err != nil:
			fmt.Printf("%s: error: %v\n", name, err)
		default:
			fmt.Printf("%s: exit %d\n", name, res.ExitCode)
		}
	}
}

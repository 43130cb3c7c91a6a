package layer

import (
	"bytes"
	"os/exec"
)

func pipeThrough(args []string, in []byte) ([]byte, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin = bytes.NewReader(in)
	return cmd.Output()
}

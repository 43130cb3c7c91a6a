package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/containerinit"
)

// The roles of this test binary in TestInitExecConstructor: the parent
// (the kiln process, holding a memfd as the scenario says) and the
// child (started as a container init would be, or as the scenario says).
const (
	envInitParent = "KILN_TEST_INIT_PARENT"
	envInitChild  = "KILN_TEST_INIT_CHILD"
)

// InitRolesForTest plays the parent or the child when this process was
// started as one; TestMain calls it after Init.
func InitRolesForTest() {
	if os.Getenv(envInitChild) != "" {
		// Not re-executed as kiln-init, and past nsenter (which returned,
		// as there is no init pipe): say so and wait to be killed.
		os.NewFile(4, "ready").WriteString("ready\n")
		select {}
	}
	if s := os.Getenv(envInitParent); s != "" {
		exe, err := initParent(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Print(exe)
		os.Exit(0)
	}
}

// InitParentEnv is the variable that makes this test binary the parent of
// the scenario.
const InitParentEnv = envInitParent

// initParent sets up the scenario's memfd, starts this binary as a child
// the way libcontainer starts the init (socketpair as the init pipe, a log
// pipe), waits until the child has passed every constructor (nsenter logs
// a line, or the child role writes one) and returns where the child's
// /proc/PID/exe points then: kiln-init's memfd when the constructor
// re-executed it.
func initParent(scenario string) (string, error) {
	initArgs := []string{"kiln-test", "init"}
	var env []string
	switch scenario {
	case "sealed", "not-init", "no-init-pipe", "foreign-pipe":
		f, err := sealedCopy(os.Getenv(containerinit.Env))
		if err != nil {
			return "", err
		}
		defer f.Close()
		switch scenario {
		case "not-init":
			initArgs = []string{"kiln-test", "-test.run=^$"}
		case "no-init-pipe":
			env = append(env, envInitChild+"=1")
		}
	case "unsealed", "write-unsealed", "misnamed":
		name, seals := containerinit.MemfdName, 0
		switch scenario {
		case "write-unsealed":
			seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW
		case "misnamed":
			name, seals = "kiln-sandbox-init2", unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE
		}
		fd, err := unix.MemfdCreate(name, unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
		if err != nil {
			return "", err
		}
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		b, err := os.ReadFile(os.Getenv(containerinit.Env))
		if err != nil {
			return "", err
		}
		if _, err := f.Write(b); err != nil {
			return "", err
		}
		if seals != 0 {
			if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
				return "", err
			}
		}
	default:
		return "", fmt.Errorf("unknown scenario %q", scenario)
	}

	var initPipe, ours *os.File
	if scenario == "foreign-pipe" {
		// Made by the test process, which is not this child's parent.
		initPipe = os.NewFile(3, "foreign init pipe")
	} else {
		fds, err := unix.Socketpair(unix.AF_LOCAL, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return "", err
		}
		ours, initPipe = os.NewFile(uintptr(fds[0]), "init pipe"), os.NewFile(uintptr(fds[1]), "init pipe child")
		defer ours.Close()
	}
	logR, logW, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer logR.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = initArgs
	cmd.Env = append(env, "_LIBCONTAINER_LOGPIPE=4")
	if scenario != "no-init-pipe" {
		cmd.Env = append(cmd.Env, "_LIBCONTAINER_INITPIPE=3")
	}
	cmd.ExtraFiles = []*os.File{initPipe, logW}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	logW.Close()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ready := make(chan error, 1)
	go func() {
		_, err := bufio.NewReader(logR).ReadString('\n')
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			return "", fmt.Errorf("the child wrote nothing: %v", err)
		}
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("the child said nothing in 30s")
	}
	return os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid))
}

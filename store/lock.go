package store

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// acquireLock takes the store's process lock, blocking while another process
// holds it. Since processes share the store, this kiln takes it shared;
// an older kiln takes it exclusively and records its pid in the file, so
// that waiters can name it.
func acquireLock(path string, shared bool, notice func(int)) (*os.File, error) {
	how := unix.LOCK_EX
	if shared {
		how = unix.LOCK_SH
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil && shared {
		f, err = os.Open(path) // a read-only user of a store it cannot write
	}
	if err != nil {
		return nil, err
	}
	err = flock(f, how|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		if notice != nil {
			notice(holderPID(f))
		}
		err = flock(f, how)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if !shared {
		pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
		err = f.Truncate(0)
		if err == nil {
			_, err = f.WriteAt(pid, 0)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// holderPID reads the pid written by the lock's holder. The holder writes it
// just after locking, so an empty file is retried briefly; 0 means unknown.
func holderPID(f *os.File) int {
	buf := make([]byte, 32)
	for range 20 {
		n, _ := f.ReadAt(buf, 0)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); err == nil && pid > 0 {
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}

// releaseLock empties the pid (a later waiter must not name a process that
// is gone) and closes the file, which drops the flock.
func releaseLock(f *os.File, shared bool) {
	if f == nil {
		return
	}
	if !shared {
		_ = f.Truncate(0)
	}
	_ = f.Close()
}

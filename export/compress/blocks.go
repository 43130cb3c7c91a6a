package compress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// blockJob is one fixed-size block of input on its way through a worker.
type blockJob struct {
	in   []byte
	dict []byte // the previous block's last dictSize bytes
	out  *bytes.Buffer
	err  error
	done chan struct{}
}

// blockEncoder compresses one block into out, optionally primed with dict.
type blockEncoder func(out *bytes.Buffer, in, dict []byte) error

// parallelBlocks cuts src into blockSize blocks, encodes them on the cores
// that are free and writes the results to dst in order, calling each(in)
// for every input block in order. Only the block size and the encoder
// decide the bytes; the worker count changes the speed. At most
// 2×workers+1 blocks are in flight, so memory does not grow with the input,
// and their input and output buffers are reused: first touches of fresh
// pages are expensive on the VMs kiln runs on.
func parallelBlocks(dst io.Writer, src io.Reader, blockSize, dictSize int, enc blockEncoder, each func([]byte)) (int64, error) {
	workers := freeCores()
	bufs := sync.Pool{New: func() any { b := make([]byte, blockSize); return &b }}
	outs := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	jobs := make(chan *blockJob)
	ordered := make(chan *blockJob, workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				j.err = enc(j.out, j.in, j.dict)
				close(j.done)
			}
		})
	}
	var readErr error
	go func() {
		defer close(ordered)
		defer close(jobs)
		var tail []byte
		for {
			bp := bufs.Get().(*[]byte)
			n, err := io.ReadFull(src, *bp)
			if n > 0 {
				out := outs.Get().(*bytes.Buffer)
				out.Reset()
				j := &blockJob{in: (*bp)[:n], dict: tail, out: out, done: make(chan struct{})}
				if dictSize > 0 {
					tail = append([]byte(nil), j.in[max(0, n-dictSize):]...)
				}
				select {
				case ordered <- j:
				case <-stop:
					return
				}
				jobs <- j
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				readErr = err
				return
			}
		}
	}()
	fail := func(err error) (int64, error) {
		close(stop)
		for j := range ordered {
			<-j.done
		}
		wg.Wait()
		return 0, err
	}
	var total int64
	for j := range ordered {
		<-j.done
		if j.err != nil {
			return fail(j.err)
		}
		if each != nil {
			each(j.in)
		}
		total += int64(len(j.in))
		if _, err := dst.Write(j.out.Bytes()); err != nil {
			return fail(err)
		}
		in := j.in[:cap(j.in)]
		bufs.Put(&in)
		outs.Put(j.out)
	}
	wg.Wait()
	if readErr != nil {
		return 0, fmt.Errorf("reading layer: %w", readErr)
	}
	return total, nil
}

// forceWorkers, when set, replaces freeCores' estimate: tests use it to
// show that the worker count does not reach the bytes.
var forceWorkers int

// freeCores is how many encoders to run: the cores kiln may use
// (GOMAXPROCS, which follows the affinity mask and the cgroup quota) less
// those other processes' threads are running on right now, but never
// fewer than two where two cores exist. The running count is one sample
// at the start of a layer: on a shared machine it is often one or two
// higher for an instant, and one encoder then compressed the whole layer
// serially, 1.4x slower per byte than the zstd CLI (docs/performance.md:
// at load 2.5 on 2 cores, 3.3-4.0 s against 2.2-2.5 s with two). The
// kernel shares a busy core between runnable threads, so a second encoder
// on it costs a frame's handoff, not the CPU of the first. The count never
// reaches the bytes, which only the block size decides.
func freeCores() int {
	if forceWorkers > 0 {
		return forceWorkers
	}
	procs := runtime.GOMAXPROCS(0)
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return procs
	}
	return freeOf(procs, string(b), selfRunning())
}

// freeOf parses /proc/loadavg's fourth field, "running/total", and takes
// away self, the running threads that are kiln's own (the one reading
// included): the layer's tar writer is part of the work, not a rival.
// The result is at least min(2, procs).
func freeOf(procs int, loadavg string, self int) int {
	floor := min(2, procs)
	f := strings.Fields(loadavg)
	if len(f) < 4 {
		return procs
	}
	running, _, ok := strings.Cut(f[3], "/")
	n, err := strconv.Atoi(running)
	if !ok || err != nil {
		return procs
	}
	return max(floor, min(procs, procs-(n-max(1, self))))
}

// selfRunning counts this process's threads in state R.
func selfRunning() int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 1
	}
	n := 0
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/stat")
		if err != nil {
			continue
		}
		// The state follows the command name, which is in parentheses
		// and may itself hold ") ".
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'R' {
			n++
		}
	}
	return n
}

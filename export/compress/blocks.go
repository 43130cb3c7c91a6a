package compress

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// blockJob is one fixed-size block of input on its way through a worker.
type blockJob struct {
	in   []byte
	dict []byte // the previous block's last dictSize bytes
	out  bytes.Buffer
	err  error
	done chan struct{}
}

// blockEncoder compresses one block into out, optionally primed with dict.
type blockEncoder func(out *bytes.Buffer, in, dict []byte) error

// parallelBlocks cuts src into blockSize blocks, encodes them on all cores
// and writes the results to dst in order, calling each(in) for every input
// block in order. Only the block size and the encoder decide the bytes; the
// worker count changes the speed. At most 2×workers blocks are in flight,
// so memory does not grow with the input.
func parallelBlocks(dst io.Writer, src io.Reader, blockSize, dictSize int, enc blockEncoder, each func([]byte)) (int64, error) {
	workers := runtime.GOMAXPROCS(0)
	bufs := sync.Pool{New: func() any { b := make([]byte, blockSize); return &b }}
	jobs := make(chan *blockJob)
	ordered := make(chan *blockJob, workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				j.err = enc(&j.out, j.in, j.dict)
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
				j := &blockJob{in: (*bp)[:n], dict: tail, done: make(chan struct{})}
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
	}
	wg.Wait()
	if readErr != nil {
		return 0, fmt.Errorf("reading layer: %w", readErr)
	}
	return total, nil
}

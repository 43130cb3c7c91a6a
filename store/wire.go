package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
)

// The wire between index clients and the owner: frames of a length and a
// payload of varints and length-prefixed byte strings, in a fixed field
// order. It is hand-written rather than gob because a no-op build pays
// for every package initialised at start-up, gob's a millisecond.

type hello struct {
	Proto, Schema, PID int
}

type request struct {
	Op       byte // 'g' get, 's' scan, 'w' write, 'c' collect
	Keys     [][]byte
	Prefixes []byte
	Batch    batch
	Except   string
}

type reply struct {
	Vals    [][]byte
	Found   []bool
	Entries []entry
	Keys    [][]byte
	Err     string
	Missing []byte // set when a batch's Need key is missing
}

// maxFrame bounds what a peer may make this process allocate.
const maxFrame = 1 << 30

var errFrame = errors.New("malformed index message")

type wire struct {
	r *bufio.Reader
	w *bufio.Writer
}

func newWire(c net.Conn) *wire {
	return &wire{r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}
}

func (w *wire) send(payload []byte) error {
	var n [binary.MaxVarintLen64]byte
	if _, err := w.w.Write(n[:binary.PutUvarint(n[:], uint64(len(payload)))]); err != nil {
		return err
	}
	if _, err := w.w.Write(payload); err != nil {
		return err
	}
	return w.w.Flush()
}

func (w *wire) recv() (*dec, error) {
	n, err := binary.ReadUvarint(w.r)
	if err != nil {
		return nil, err
	}
	if n > maxFrame {
		return nil, errFrame
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(w.r, b); err != nil {
		return nil, err
	}
	return &dec{b: b}, nil
}

type enc struct{ b []byte }

func (e *enc) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) int(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) bytes(v []byte)  { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) string(v string) { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) list(vs [][]byte) {
	e.uint(uint64(len(vs)))
	for _, v := range vs {
		e.bytes(v)
	}
}

func (e *enc) entries(es []entry) {
	e.uint(uint64(len(es)))
	for _, x := range es {
		e.bytes(x.K)
		e.bytes(x.V)
	}
}

func (e *enc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// dec reads what enc wrote, remembering the first error.
type dec struct {
	b   []byte
	err error
}

func (d *dec) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errFrame
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errFrame
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) bytes() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errFrame
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// count reads a list length, refusing one the rest of the frame cannot
// hold (each element takes at least one byte).
func (d *dec) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.err = errFrame
		return 0
	}
	return int(n)
}

func (d *dec) list() [][]byte {
	n := d.count()
	if n == 0 {
		return nil
	}
	vs := make([][]byte, n)
	for i := range vs {
		vs[i] = d.bytes()
	}
	return vs
}

func (d *dec) entries() []entry {
	n := d.count()
	if n == 0 {
		return nil
	}
	es := make([]entry, n)
	for i := range es {
		es[i] = entry{d.bytes(), d.bytes()}
	}
	return es
}

func (d *dec) bool() bool {
	if d.err != nil || len(d.b) == 0 {
		d.err = errFrame
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func encodeHello(h hello) []byte {
	var e enc
	e.uint(uint64(h.Proto))
	e.uint(uint64(h.Schema))
	e.uint(uint64(h.PID))
	return e.b
}

func decodeHello(d *dec) (hello, error) {
	h := hello{Proto: int(d.uint()), Schema: int(d.uint()), PID: int(d.uint())}
	return h, d.err
}

func encodeRequest(r request) []byte {
	var e enc
	e.b = append(e.b, r.Op)
	e.list(r.Keys)
	e.bytes(r.Prefixes)
	e.list(r.Batch.Need)
	e.entries(r.Batch.Set)
	e.list(r.Batch.Del)
	e.list(r.Batch.Touch)
	e.int(r.Batch.TouchAt)
	e.bool(r.Batch.Sync)
	e.string(r.Except)
	return e.b
}

func decodeRequest(d *dec) (request, error) {
	var r request
	if len(d.b) == 0 {
		return r, errFrame
	}
	r.Op, d.b = d.b[0], d.b[1:]
	r.Keys = d.list()
	r.Prefixes = d.bytes()
	r.Batch.Need = d.list()
	r.Batch.Set = d.entries()
	r.Batch.Del = d.list()
	r.Batch.Touch = d.list()
	r.Batch.TouchAt = d.int()
	r.Batch.Sync = d.bool()
	r.Except = string(d.bytes())
	return r, d.err
}

func encodeReply(r reply) []byte {
	var e enc
	e.uint(uint64(len(r.Vals)))
	for i, v := range r.Vals {
		e.bool(r.Found[i])
		e.bytes(v)
	}
	e.entries(r.Entries)
	e.list(r.Keys)
	e.string(r.Err)
	e.bool(r.Missing != nil)
	e.bytes(r.Missing)
	return e.b
}

func decodeReply(d *dec) (reply, error) {
	var r reply
	if n := d.count(); n > 0 {
		r.Vals, r.Found = make([][]byte, n), make([]bool, n)
		for i := range n {
			r.Found[i] = d.bool()
			r.Vals[i] = d.bytes()
		}
	}
	r.Entries = d.entries()
	r.Keys = d.list()
	r.Err = string(d.bytes())
	missing := d.bool()
	m := d.bytes()
	if missing {
		r.Missing = m
	}
	return r, d.err
}

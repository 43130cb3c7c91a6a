package debian

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

const arMagic = "!<arch>\n"

// DataTar reads a .deb (an ar archive: debian-binary, control.tar.*,
// data.tar.*) from r and returns its data archive, decompressed (xz, zstd,
// gzip, bzip2 is not supported, or none). The returned reader reads from
// r; close it when done.
func DataTar(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != arMagic {
		return nil, errors.New("not a .deb: no ar archive header")
	}
	for {
		var hdr [60]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("the .deb has no data.tar member")
			}
			return nil, fmt.Errorf("reading .deb member header: %w", err)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, errors.New("corrupt .deb: bad ar member header")
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("corrupt .deb: bad size in member %q", name)
		}
		if strings.HasPrefix(name, "data.tar") {
			body := io.LimitReader(br, size)
			switch strings.TrimPrefix(name, "data.tar") {
			case ".xz":
				zr, err := xz.NewReader(body)
				if err != nil {
					return nil, fmt.Errorf("opening %s: %w", name, err)
				}
				return io.NopCloser(zr), nil
			case ".zst":
				zr, err := zstd.NewReader(body, zstd.WithDecoderConcurrency(1))
				if err != nil {
					return nil, fmt.Errorf("opening %s: %w", name, err)
				}
				return zr.IOReadCloser(), nil
			case ".gz":
				zr, err := gzip.NewReader(body)
				if err != nil {
					return nil, fmt.Errorf("opening %s: %w", name, err)
				}
				return zr, nil
			case "":
				return io.NopCloser(body), nil
			default:
				return nil, fmt.Errorf("the .deb's %s is compressed in a way kiln does not read (xz, zstd, gzip or none)", name)
			}
		}
		// Members are padded to an even length.
		if _, err := io.CopyN(io.Discard, br, size+size%2); err != nil {
			return nil, fmt.Errorf("corrupt .deb: member %q: %w", name, err)
		}
	}
}

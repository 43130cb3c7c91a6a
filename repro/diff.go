package repro

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// treeEntry is what kiln verify compares of one path in a layer tree.
type treeEntry struct {
	kind  string // file, dir, symlink, whiteout, other
	mode  fs.FileMode
	size  int64
	mtime time.Time
	uid   uint32
	gid   uint32
	link  string
	sum   string
}

func (e treeEntry) describe() string {
	s := fmt.Sprintf("%s %v uid %d gid %d mtime %s", e.kind, e.mode, e.uid, e.gid, e.mtime.UTC().Format(time.RFC3339))
	if e.kind == "file" {
		s += fmt.Sprintf(" size %d", e.size)
	}
	if e.link != "" {
		s += " -> " + e.link
	}
	return s
}

func scanTree(root string) (map[string]treeEntry, error) {
	out := map[string]treeEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		e := treeEntry{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			e.uid, e.gid = st.Uid, st.Gid
		}
		switch {
		case fi.IsDir():
			e.kind, e.size = "dir", 0
		case fi.Mode()&fs.ModeSymlink != 0:
			e.kind = "symlink"
			e.link, _ = os.Readlink(p)
		case fi.Mode()&fs.ModeCharDevice != 0 && fi.Size() == 0:
			e.kind = "whiteout"
		case fi.Mode().IsRegular():
			e.kind = "file"
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			e.sum = hex.EncodeToString(h.Sum(nil))
		default:
			e.kind = "other"
		}
		out[rel] = e
		return nil
	})
	return out, err
}

// diffTrees describes how two layer trees differ: paths added, removed
// and changed; for a changed file its size, mode and mtime on both sides,
// a diff of its first lines when it is text, and the differing members
// when it is an archive.
func diffTrees(a, b string) []string {
	ta, err := scanTree(a)
	if err != nil {
		return []string{"reading the first build's layer: " + err.Error()}
	}
	tb, err := scanTree(b)
	if err != nil {
		return []string{"reading the rebuild's layer: " + err.Error()}
	}
	var paths []string
	for p := range ta {
		paths = append(paths, p)
	}
	for p := range tb {
		if _, ok := ta[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	var out []string
	for _, p := range paths {
		ea, oka := ta[p]
		eb, okb := tb[p]
		switch {
		case !oka:
			out = append(out, "added   /"+p+" ("+eb.describe()+")")
		case !okb:
			out = append(out, "removed /"+p+" ("+ea.describe()+")")
		case ea != eb:
			out = append(out, "changed /"+p)
			if ea.describe() != eb.describe() {
				out = append(out, "  first build: "+ea.describe(), "  rebuild:     "+eb.describe())
			} else {
				out = append(out, "  "+ea.describe()+" on both sides; contents differ")
			}
			if ea.kind == "file" && eb.kind == "file" && ea.sum != eb.sum {
				out = append(out, indent(fileDiff(p, filepath.Join(a, p), filepath.Join(b, p)), "  ")...)
			}
		}
	}
	if len(out) == 0 {
		out = append(out, "the trees hold the same paths, metadata and contents (an xattr or whiteout detail differs)")
	}
	return out
}

func indent(lines []string, pre string) []string {
	for i := range lines {
		lines[i] = pre + lines[i]
	}
	return lines
}

// fileDiff explains how two versions of a file differ: their archive
// members, or a unified diff of their first lines for text.
func fileDiff(name, a, b string) []string {
	ba, err1 := os.ReadFile(a)
	bb, err2 := os.ReadFile(b)
	if err1 != nil || err2 != nil {
		return nil
	}
	if ma, ok := archiveMembers(name, ba); ok {
		if mb, ok := archiveMembers(name, bb); ok {
			return memberDiff(ma, mb)
		}
	}
	if !isText(ba) || !isText(bb) {
		return []string{"binary contents differ"}
	}
	return unifiedDiff(firstLines(ba, 200), firstLines(bb, 200), 30)
}

func isText(b []byte) bool {
	if len(b) > 64<<10 {
		b = b[:64<<10]
	}
	return !bytes.ContainsRune(b, 0) && utf8.Valid(bytes.TrimRight(b, "\x80\xbf"))
}

func firstLines(b []byte, n int) []string {
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[:n]
	}
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\n")
	}
	return lines
}

// unifiedDiff is a minimal unified diff (longest common subsequence) of
// two short line lists, limited to max output lines after the header.
func unifiedDiff(a, b []string, max int) []string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = lcs[i+1][j]
				if lcs[i][j+1] > lcs[i][j] {
					lcs[i][j] = lcs[i][j+1]
				}
			}
		}
	}
	out := []string{"--- first build", "+++ rebuild"}
	body := 0
	emit := func(s string) bool {
		if body >= max {
			return false
		}
		out = append(out, s)
		body++
		return true
	}
	i, j := 0, 0
	for (i < n || j < m) && body < max {
		switch {
		case i < n && j < m && a[i] == b[j]:
			emit(" " + a[i])
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			emit("-" + a[i])
			i++
		default:
			emit("+" + b[j])
			j++
		}
	}
	if i < n || j < m {
		out = append(out, "... (more lines differ)")
	}
	return out
}

// member is one entry of an archive inside a layer.
type member struct {
	desc string
	sum  string
}

// archiveMembers lists a tar, tar.gz or zip file's members by name; ok is
// false for anything else or an unreadable archive.
func archiveMembers(name string, b []byte) (map[string]member, bool) {
	lower := strings.ToLower(name)
	out := map[string]member{}
	readTar := func(r io.Reader) bool {
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return true
			}
			if err != nil {
				return false
			}
			hs := sha256.New()
			if _, err := io.Copy(hs, tr); err != nil {
				return false
			}
			out[h.Name] = member{
				desc: fmt.Sprintf("type %c mode %o uid %d gid %d size %d mtime %s", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size, h.ModTime.UTC().Format(time.RFC3339)),
				sum:  hex.EncodeToString(hs.Sum(nil)),
			}
		}
	}
	switch {
	case strings.HasSuffix(lower, ".tar"):
		return out, readTar(bytes.NewReader(b))
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, false
		}
		if !readTar(zr) {
			return nil, false
		}
		out["(gzip header)"] = member{desc: fmt.Sprintf("name %q mtime %s os %d", zr.Name, zr.ModTime.UTC().Format(time.RFC3339), zr.OS)}
		return out, true
	case strings.HasSuffix(lower, ".zip"), strings.HasSuffix(lower, ".jar"):
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, false
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				return nil, false
			}
			hs := sha256.New()
			_, err = io.Copy(hs, rc)
			rc.Close()
			if err != nil {
				return nil, false
			}
			out[f.Name] = member{desc: fmt.Sprintf("mode %v size %d mtime %s", f.Mode(), f.UncompressedSize64, f.Modified.UTC().Format(time.RFC3339)), sum: hex.EncodeToString(hs.Sum(nil))}
		}
		return out, true
	}
	return nil, false
}

func memberDiff(a, b map[string]member) []string {
	var names []string
	for k := range a {
		names = append(names, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	out := []string{}
	for _, k := range names {
		ma, oka := a[k]
		mb, okb := b[k]
		switch {
		case !oka:
			out = append(out, "archive member added:   "+k)
		case !okb:
			out = append(out, "archive member removed: "+k)
		case ma.desc != mb.desc:
			out = append(out, "archive member "+k+": "+ma.desc+" -> "+mb.desc)
		case ma.sum != mb.sum:
			out = append(out, "archive member "+k+": contents differ")
		}
	}
	if len(out) == 0 {
		out = append(out, "archive members identical: the archive's own framing (order, padding, compression) differs")
	}
	return out
}

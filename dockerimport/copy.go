package dockerimport

import (
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/internal/lazyre"
)

var (
	// ownerRe is what kiln's chown takes: user[:group], names or ids.
	ownerRe   = lazyre.New(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$`)
	octalMode = lazyre.New(`^0?[0-7]{3,4}$`)
)

// copyCmd translates COPY: from the context, a stage, a named context or
// an image; heredocs become file steps.
func (sc *stageConv) copyCmd(cmd *instructions.CopyCommand) {
	if err := cmd.Expand(sc.expander); err != nil {
		sc.note("%v; step left out", err)
		return
	}
	_ = cmd.ExpandRaw(sc.expander)
	if cmd.Parents {
		sc.note("--parents is not translated: the paths are copied without their parent folders")
	}
	if len(cmd.ExcludePatterns) > 0 {
		if cmd.From != "" {
			sc.note("--exclude is not translated for a copy from another state: everything the paths name is copied")
		}
	}
	from := ""
	if cmd.From != "" {
		from = sc.stateRef(sc.word(cmd.From))
	}
	sc.copyStep(from, cmd.SourcesAndDest, cmd.Chown, cmd.Chmod, cmd.ExcludePatterns)
}

// add translates ADD: local paths like COPY, URLs as http sources, git
// repositories as git sources. Local archives are not unpacked.
func (sc *stageConv) add(cmd *instructions.AddCommand) {
	if err := cmd.Expand(sc.expander); err != nil {
		sc.note("%v; step left out", err)
		return
	}
	_ = cmd.ExpandRaw(sc.expander)
	var local []string
	for _, src := range cmd.SourcePaths {
		switch {
		case isGit(src):
			sc.addGit(src, cmd)
		case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
			sc.addURL(src, cmd)
		default:
			if isArchive(src) && (cmd.Unpack == nil || *cmd.Unpack) {
				sc.note("ADD unpacks the local archive %q; the copy step copies it as a file: unpack it in a run step", src)
			}
			local = append(local, src)
		}
	}
	if len(local) > 0 || len(cmd.SourceContents) > 0 {
		sd := cmd.SourcesAndDest
		sd.SourcePaths = local
		sc.copyStep("", sd, cmd.Chown, cmd.Chmod, cmd.ExcludePatterns)
	}
}

func isGit(src string) bool {
	if strings.HasPrefix(src, "git@") || strings.HasPrefix(src, "git://") {
		return true
	}
	u, _, _ := strings.Cut(src, "#")
	return (strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) && strings.HasSuffix(u, ".git")
}

func isArchive(src string) bool {
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst"} {
		if strings.HasSuffix(src, ext) {
			return true
		}
	}
	return false
}

func (sc *stageConv) addURL(url string, cmd *instructions.AddCommand) {
	c := sc.c
	name := lastElem(strings.SplitN(strings.SplitN(url, "?", 2)[0], "#", 2)[0])
	if name == "" || strings.Contains(url[len("https://"):], "/") == false {
		name = "download"
	}
	addr := c.addSource("http:"+url, "http", name, func(b *block) {
		b.set("url", c.quote(url))
		if cmd.Checksum != "" {
			b.comments = append(b.comments, "ADD --checksum="+cmd.Checksum+": kiln lock pins the sha256 of what it downloads")
		}
	})
	dest := cmd.DestPath
	b := sc.blk.add("copy")
	b.set("from", expr(addr))
	b.set("src", c.list([]string{name}))
	b.set("dest", c.quote(dest))
	sc.chownChmod(b, cmd.Chown, cmd.Chmod)
}

func (sc *stageConv) addGit(src string, cmd *instructions.AddCommand) {
	c := sc.c
	url, ref, _ := strings.Cut(src, "#")
	ref, sub, _ := strings.Cut(ref, ":")
	addr := c.addSource("git:"+src, "git", strings.TrimSuffix(lastElem(url), ".git"), func(b *block) {
		b.set("url", c.quote(url))
		if ref != "" {
			b.set("ref", c.quote(ref))
		}
		if cmd.KeepGitDir != nil && *cmd.KeepGitDir {
			b.set("keep_git_dir", "true")
		}
	})
	b := sc.blk.add("copy")
	b.set("from", expr(addr))
	b.set("src", c.list([]string{"/" + sub}))
	b.set("dest", c.quote(cmd.DestPath))
	sc.chownChmod(b, cmd.Chown, cmd.Chmod)
}

// copyStep writes a copy step for source paths (from the context when
// from is empty) and a file step per heredoc.
func (sc *stageConv) copyStep(from string, sd instructions.SourcesAndDest, chown, chmod string, exclude []string) {
	c := sc.c
	dest := sd.DestPath
	for _, f := range sd.SourceContents {
		p := dest
		if strings.HasSuffix(dest, "/") || len(sd.SourceContents) > 1 {
			p = path.Join(dest, f.Path)
		}
		b := sc.blk.add("file")
		b.set("path", c.quote(p))
		b.set("content", c.quote(f.Data))
		if chmod != "" && octalMode.MatchString(chmod) {
			b.set("mode", expr(quoteLiteral(chmod)))
		}
		sc.chown(b, chown)
	}
	if len(sd.SourcePaths) == 0 {
		return
	}
	srcs := make([]string, len(sd.SourcePaths))
	for i, s := range sd.SourcePaths {
		srcs[i] = cleanSrc(s)
		if from != "" && srcs[i] != "." {
			// Out of another state, paths read as in the Dockerfile.
			srcs[i] = "/" + srcs[i]
		}
	}
	if from == "" {
		from = c.contextSource(contextInclude(srcs))
		if len(exclude) > 0 {
			sc.note("--exclude %q is not translated: add the patterns to the context's .dockerignore or the source's exclude", exclude)
		}
	}
	if d := path.Base(dest); len(srcs) > 1 || d == "." || d == ".." {
		// A folder is meant: docker build requires one for several
		// sources, and "." is the working directory.
		if !strings.HasSuffix(dest, "/") {
			dest += "/"
		}
	}
	b := sc.blk.add("copy")
	b.set("from", expr(from))
	b.set("src", c.list(srcs))
	b.set("dest", c.quote(dest))
	sc.chownChmod(b, chown, chmod)
}

// cleanSrc is a COPY source path inside its state: "./a" and "a" are the
// same, "." is the whole state.
func cleanSrc(s string) string {
	trail := strings.HasSuffix(s, "/")
	s = path.Clean("/" + s)
	if s == "/" {
		return "."
	}
	s = strings.TrimPrefix(s, "/")
	if trail {
		s += "/"
	}
	return s
}

// contextInclude is the include list of a context source for the paths a
// COPY takes; nil for the whole context.
func contextInclude(srcs []string) []string {
	var inc []string
	for _, s := range srcs {
		if s == "." {
			return nil
		}
		inc = append(inc, strings.TrimSuffix(s, "/"))
	}
	return inc
}

// chownChmod sets chown and chmod where kiln can say the same.
func (sc *stageConv) chownChmod(b *block, chown, chmod string) {
	c := sc.c
	sc.chown(b, chown)
	switch {
	case chmod == "":
	case octalMode.MatchString(chmod):
		b.set("chmod", c.quote(chmod))
	default:
		sc.note("--chmod=%s is not translated: chmod takes an octal mode; the files keep their modes", chmod)
	}
}

// chown sets chown: names as written, which kiln looks up in the
// stage's /etc/passwd and /etc/group when the step runs, as BuildKit
// does. root is written 0:0, which needs no /etc/passwd (scratch).
func (sc *stageConv) chown(b *block, chown string) {
	lit, _ := sc.c.literal(chown)
	switch {
	case chown == "":
	case lit == "root" || lit == "root:root" || lit == "0:root" || lit == "root:0":
		b.set("chown", `"0:0"`)
	case ownerRe.MatchString(lit) && sc.c.wellFormed(chown):
		b.set("chown", sc.c.quote(chown))
	default:
		sc.note("--chown=%s is not translated: chown takes user[:group], each a name or a numeric id; the files belong to root", lit)
	}
}

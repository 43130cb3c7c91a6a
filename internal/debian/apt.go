package debian

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// AptSource is one repository line (or deb822 stanza) of the machine's apt
// configuration, restricted to binary ("deb") sources.
type AptSource struct {
	URI        string
	Suites     []string
	Components []string
	// SignedBy is the keyring that signs the repository's InRelease, when
	// the configuration names a file.
	SignedBy string
	// Trusted is trusted=yes: apt skips signature checks.
	Trusted bool
	// From is the configuration file, for messages.
	From string
}

// ReadAptSources reads etc/apt/sources.list, etc/apt/sources.list.d/*.list
// and etc/apt/sources.list.d/*.sources below root ("/" for the machine), in
// the order apt reads them. Disabled stanzas (Enabled: no) and deb-src
// entries are skipped. Missing files are no error.
func ReadAptSources(root string) ([]AptSource, error) {
	var out []AptSource
	main := filepath.Join(root, "etc/apt/sources.list")
	if s, err := readOneLine(main); err != nil {
		return nil, err
	} else {
		out = append(out, s...)
	}
	dir := filepath.Join(root, "etc/apt/sources.list.d")
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		var s []AptSource
		switch {
		case strings.HasSuffix(n, ".list"):
			s, err = readOneLine(p)
		case strings.HasSuffix(n, ".sources"):
			s, err = readDeb822(p)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}

func readOneLine(path string) ([]AptSource, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AptSource
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if i := strings.IndexByte(t, '#'); i >= 0 {
			t = t[:i]
		}
		fs := strings.Fields(t)
		if len(fs) == 0 || fs[0] != "deb" {
			continue
		}
		fs = fs[1:]
		s := AptSource{From: fmt.Sprintf("%s:%d", path, line)}
		if len(fs) > 0 && strings.HasPrefix(fs[0], "[") {
			var opts []string
			for len(fs) > 0 {
				o := fs[0]
				fs = fs[1:]
				opts = append(opts, strings.Trim(o, "[]"))
				if strings.HasSuffix(o, "]") {
					break
				}
			}
			for _, o := range opts {
				k, v, _ := strings.Cut(o, "=")
				switch k {
				case "signed-by":
					s.SignedBy = v
				case "trusted":
					s.Trusted = v == "yes"
				}
			}
		}
		if len(fs) < 2 {
			return nil, fmt.Errorf("%s:%d: a deb line needs a URI and a suite", path, line)
		}
		s.URI = strings.TrimSuffix(fs[0], "/")
		s.Suites = []string{fs[1]}
		s.Components = fs[2:]
		out = append(out, s)
	}
	return out, sc.Err()
}

func readDeb822(path string) ([]AptSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AptSource
	err = ParseParagraphs(f, func(p Paragraph) error {
		if p.Get("Enabled") == "no" || !contains(strings.Fields(p.Get("Types")), "deb") {
			return nil
		}
		for _, u := range strings.Fields(p.Get("URIs")) {
			s := AptSource{
				URI:        strings.TrimSuffix(u, "/"),
				Suites:     strings.Fields(p.Get("Suites")),
				Components: strings.Fields(p.Get("Components")),
				Trusted:    p.Get("Trusted") == "yes",
				From:       path,
			}
			// Signed-By may also hold an inline key block; only a file
			// name is usable with gpgv.
			if sb := p.Get("Signed-By"); sb != "" && !strings.Contains(sb, "\n") {
				s.SignedBy = sb
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// FindSuite returns the first source that lists suite. The error lists
// the suites the configuration has, so a typo is easy to see.
func FindSuite(srcs []AptSource, suite string) (AptSource, error) {
	var all []string
	for _, s := range srcs {
		if contains(s.Suites, suite) {
			return s, nil
		}
		all = append(all, s.Suites...)
	}
	if len(all) == 0 {
		return AptSource{}, fmt.Errorf("the apt configuration (/etc/apt/sources.list, /etc/apt/sources.list.d) lists no deb repository; add one, or set the deb source's repository")
	}
	return AptSource{}, fmt.Errorf("no repository in the apt configuration serves suite %q (it has %s); add one, or set the deb source's repository", suite, strings.Join(all, ", "))
}

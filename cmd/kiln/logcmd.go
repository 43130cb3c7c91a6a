package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
)

func init() { subcommands = append(subcommands, newLogCmd) }

func newLogCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "log DIGEST",
		Short: "Print the build log of a derivation",
		Long:  "log prints the stdout and stderr a derivation's step wrote when it was built. DIGEST may be abbreviated as 'kiln plan' prints it.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(g)
			if err != nil {
				return err
			}
			defer st.Close()
			d, err := logByPrefix(st.LogPath(digest.FromString("")), args[0])
			if err != nil {
				return err
			}
			f, err := os.Open(st.LogPath(d))
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(os.Stdout, f)
			return err
		},
	}
}

// logByPrefix finds the one derivation with a log whose digest starts with
// prefix. sample is any log path, to learn the logs' folder and naming.
func logByPrefix(sample, prefix string) (digest.Digest, error) {
	prefix = strings.TrimPrefix(prefix, "sha256:")
	if !looksLikeDigest(prefix) {
		return "", usageErrorf("%q is not a digest (hex, at least 4 digits)", prefix)
	}
	dir, base := filepath.Split(sample)
	ext := strings.TrimPrefix(base, digest.FromString("").Encoded())
	matches, err := filepath.Glob(filepath.Join(dir, prefix+"*"+ext))
	if err != nil {
		return "", err
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("no build log for %s in this store: only exec steps built here have logs ('kiln plan' shows digests)", prefix)
	case 1:
		hex := strings.TrimSuffix(filepath.Base(matches[0]), ext)
		return digest.NewDigestFromEncoded(digest.SHA256, hex), nil
	}
	return "", usageErrorf("%s is ambiguous (%d logs); give more digits", prefix, len(matches))
}

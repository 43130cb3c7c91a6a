package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kiln-build/kiln/sign"
)

func newSignCmd(g *globals) *cobra.Command {
	var (
		keyFile      string
		attestations []string
		generate     bool
		insecure     bool
	)
	cmd := &cobra.Command{
		Use:   "sign IMAGE-REF --key FILE",
		Short: "Sign an image in a registry as cosign does, and attach signed attestations",
		Long: `sign signs the image IMAGE-REF names in its registry (a tag is resolved
to its digest, and the digest is signed) and stores the signature where
cosign looks for it, so that

  cosign verify --key cosign.pub --insecure-ignore-tlog=true IMAGE-REF

accepts it. Each --attestation FILE is an in-toto statement about the
image; it is signed into a DSSE envelope and attached, for cosign
verify-attestation --type. The key is cosign's (cosign generate-key-pair;
its password from COSIGN_PASSWORD, else asked on the terminal) or a PEM
PKCS #8 ECDSA P-256 key. Signatures are deterministic (RFC 6979), so
signing again adds nothing.

--generate-key writes a new key pair in cosign's format: the encrypted
private key to --key (default cosign.key) and the public key next to it
with .pub for .key (cosign.pub).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if generate {
				if len(args) != 0 {
					return usageErrorf("kiln sign --generate-key takes no image reference")
				}
				return nil
			}
			if len(args) != 1 {
				return usageErrorf("kiln sign takes one image reference, IMAGE-REF (got %d)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if generate {
				return generateKey(keyFile)
			}
			if keyFile == "" {
				return usageErrorf("kiln sign needs --key FILE: cosign's cosign.key or a PEM EC private key (kiln sign --generate-key makes a pair)")
			}
			statements := make([][]byte, len(attestations))
			for i, f := range attestations {
				b, err := os.ReadFile(f)
				if err != nil {
					return usageErrorf("--attestation: %v", err)
				}
				statements[i] = b
			}
			k, err := loadSigningKey(keyFile)
			if err != nil {
				return err
			}
			o := sign.Options{Insecure: insecure}
			ctx := cmd.Context()
			res, err := sign.Image(ctx, args[0], k, o)
			if err != nil {
				return err
			}
			printSigned(res, "signature")
			for i, st := range statements {
				res, err := sign.Attestation(ctx, args[0], st, k, o)
				if err != nil {
					return fmt.Errorf("--attestation %s: %w", attestations[i], err)
				}
				printSigned(res, "attestation")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&keyFile, "key", "", "the private key: cosign's cosign.key (password in COSIGN_PASSWORD) or a PEM PKCS #8 ECDSA P-256 key")
	fl.StringArrayVar(&attestations, "attestation", nil, "an in-toto statement about the image to sign and attach (repeatable)")
	fl.BoolVar(&generate, "generate-key", false, "write a new key pair in cosign's format to --key (default cosign.key) and its .pub")
	fl.BoolVar(&insecure, "allow-insecure-registry", false, "reach the registry over plain HTTP or unverified TLS, as registry.insecure=true in an output (loopback registries always may)")
	return cmd
}

func printSigned(r sign.Result, what string) {
	state := "added"
	if !r.Added {
		state = "there already"
	}
	fmt.Printf("%s %s %s of %s\n", r.Ref, r.Digest, what+" "+state, r.Subject)
}

// loadSigningKey reads --key or --sign key=FILE. A file that cannot be
// read is the caller's mistake (exit 2); a key that does not parse or
// decrypt is exit 1 with the file named.
func loadSigningKey(file string) (*sign.Key, error) {
	if _, err := os.Stat(file); err != nil {
		return nil, usageErrorf("signing key %s: %v", file, unwrapPath(err))
	}
	return sign.LoadKey(file, keyPassword(file))
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// keyPassword is cosign's order: COSIGN_PASSWORD when set (even empty),
// else asked on the terminal.
func keyPassword(file string) sign.PasswordFunc {
	return func() ([]byte, error) {
		if pw, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
			return []byte(pw), nil
		}
		if !term.IsTerminal(int(os.Stdin.Fd())) {
			return nil, errors.New("the key is encrypted: set COSIGN_PASSWORD to its password")
		}
		fmt.Fprintf(os.Stderr, "Password for %s: ", file)
		pw, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		return pw, err
	}
}

// generateKey writes a new key pair, refusing to replace either file.
func generateKey(keyFile string) error {
	if keyFile == "" {
		keyFile = "cosign.key"
	}
	pubFile := strings.TrimSuffix(keyFile, filepath.Ext(keyFile)) + ".pub"
	if pubFile == keyFile {
		pubFile = keyFile + ".pub"
	}
	for _, f := range []string{keyFile, pubFile} {
		if _, err := os.Lstat(f); err == nil {
			return usageErrorf("%s exists; kiln sign --generate-key does not replace keys (remove it or give another --key)", f)
		}
	}
	pw, ok := os.LookupEnv("COSIGN_PASSWORD")
	if !ok {
		if !term.IsTerminal(int(os.Stdin.Fd())) {
			return usageErrorf("set COSIGN_PASSWORD to the new key's password (it may be empty, as for cosign)")
		}
		a, err := askPassword("Password for the new key: ")
		if err != nil {
			return err
		}
		b, err := askPassword("Again: ")
		if err != nil {
			return err
		}
		if a != b {
			return errors.New("the two passwords differ; nothing was written")
		}
		pw = a
	}
	priv, pub, err := sign.GenerateKey([]byte(pw))
	if err != nil {
		return err
	}
	// O_EXCL: a file that appeared since the check is not replaced.
	if err := writeNew(keyFile, priv, 0o600); err != nil {
		return err
	}
	if err := writeNew(pubFile, pub, 0o644); err != nil {
		os.Remove(keyFile)
		return err
	}
	fmt.Printf("Private key written to %s\nPublic key written to %s\n", keyFile, pubFile)
	return nil
}

func askPassword(prompt string) (string, error) {
	fmt.Fprint(os.Stderr, prompt)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return string(b), err
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

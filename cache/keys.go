package cache

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kiln-build/kiln/internal/atomicfile"
)

// Key files are one line: a header naming the format, the key's name and
// the key in base64 (the 32-byte seed for a private key, the 32-byte
// public key otherwise), as minisign and Nix's key files are one line.
const (
	privateHeader = "kiln-cache-private-key-v1"
	publicHeader  = "kiln-cache-public-key-v1"
)

// signedPrefix is put before the bytes signed, so that a kiln signature
// can never be taken for one over anything else.
const signedPrefix = "kiln-cache-entry-v1\n"

// PublicKey is a key entries are checked against.
type PublicKey struct {
	Name string
	Key  ed25519.PublicKey
}

// ID is the key's identity in annotations: its name and the first 16 hex
// digits of the sha256 of the key.
func (k PublicKey) ID() string { return keyID(k.Name, k.Key) }

func keyID(name string, pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return name + ":" + hex.EncodeToString(sum[:8])
}

// PrivateKey signs exported entries.
type PrivateKey struct {
	Name string
	Key  ed25519.PrivateKey
}

// ID is the identity of the key's public half.
func (k PrivateKey) ID() string { return keyID(k.Name, k.Key.Public().(ed25519.PublicKey)) }

// Keygen writes a new key pair as dir/NAME.key (mode 0600) and
// dir/NAME.pub, refusing to replace either.
func Keygen(dir, name string) (priv, pub string, err error) {
	if name == "" || strings.ContainsAny(name, "/ :\n") {
		return "", "", fmt.Errorf("key name %q: use letters, digits, dots and dashes", name)
	}
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	priv, pub = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	for _, p := range []string{priv, pub} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("%s exists: remove it or choose another name", p)
		}
	}
	line := func(h string, b []byte) []byte {
		return []byte(h + " " + name + " " + base64.StdEncoding.EncodeToString(b) + "\n")
	}
	if err := writeNew(priv, line(privateHeader, sk.Seed()), 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(pub, line(publicHeader, pk), 0o644); err != nil {
		// A private key without its public half is of no use: keep
		// nothing of a failed keygen.
		os.Remove(priv)
		return "", "", err
	}
	return priv, pub, nil
}

// writeNew writes a key file whole, or nothing, and never over an
// existing file.
func writeNew(path string, b []byte, perm os.FileMode) error {
	return atomicfile.Publish(path, false, true, func(tmp string) error {
		return os.WriteFile(tmp, b, perm)
	})
}

func readKeyFile(path, header string, size int) (string, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("reading key: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 3 || f[0] != header {
		return "", nil, fmt.Errorf("%s is not a %s file (kiln cache keygen writes them)", path, header)
	}
	raw, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil || len(raw) != size {
		return "", nil, fmt.Errorf("%s: malformed key", path)
	}
	return f[1], raw, nil
}

// LoadPrivateKey reads a NAME.key file.
func LoadPrivateKey(path string) (PrivateKey, error) {
	name, seed, err := readKeyFile(path, privateHeader, ed25519.SeedSize)
	if err != nil {
		return PrivateKey{}, err
	}
	return PrivateKey{Name: name, Key: ed25519.NewKeyFromSeed(seed)}, nil
}

// LoadPublicKey reads a NAME.pub file.
func LoadPublicKey(path string) (PublicKey, error) {
	name, pub, err := readKeyFile(path, publicHeader, ed25519.PublicKeySize)
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey{Name: name, Key: pub}, nil
}

// sign signs an entry's config bytes.
func (k PrivateKey) sign(config []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(k.Key, append([]byte(signedPrefix), config...)))
}

// errUntrusted marks an entry that no trusted key signed.
var errUntrusted = errors.New("not signed by a trusted key")

// verify checks sig, made by the key named id, over config.
func verify(trusted []PublicKey, id, sig string, config []byte) error {
	for _, k := range trusted {
		if k.ID() != id {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || !ed25519.Verify(k.Key, append([]byte(signedPrefix), config...), raw) {
			return fmt.Errorf("signature by %s does not verify: the entry was altered", id)
		}
		return nil
	}
	if id == "" {
		return fmt.Errorf("unsigned: %w", errUntrusted)
	}
	return fmt.Errorf("signed by %s: %w", id, errUntrusted)
}

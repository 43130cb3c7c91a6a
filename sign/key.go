package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// The PEM block types of private keys that LoadKey reads. The two
// encrypted ones are cosign's: generate-key-pair writes SIGSTORE (older
// releases wrote COSIGN); both hold a PKCS #8 key sealed with scrypt and
// NaCl secretbox under a password.
const (
	pemSigstoreEncrypted = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemCosignEncrypted   = "ENCRYPTED COSIGN PRIVATE KEY"
	pemPKCS8             = "PRIVATE KEY"
	pemSEC1              = "EC PRIVATE KEY"
)

// Key is an ECDSA P-256 private key. It prints as its public key's
// fingerprint, never as its private part.
type Key struct {
	priv *ecdsa.PrivateKey
}

// PasswordFunc returns the password of an encrypted key file. It is asked
// only when the file is encrypted.
type PasswordFunc func() ([]byte, error)

// LoadKey reads a private key file: cosign's encrypted cosign.key (the
// password from password), or a plain PEM PKCS #8 or SEC 1 EC key. Only
// ECDSA P-256 keys are accepted: they are what cosign generates and what
// its verifier checks with SHA-256.
func LoadKey(path string, password PasswordFunc) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the signing key: %w", err)
	}
	k, err := ParseKey(b, password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseKey is LoadKey on a file's bytes.
func ParseKey(b []byte, password PasswordFunc) (*Key, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("not a PEM private key (want cosign.key from cosign generate-key-pair or kiln sign --generate-key, or a PEM PKCS #8 EC key)")
	}
	var der []byte
	switch block.Type {
	case pemSigstoreEncrypted, pemCosignEncrypted:
		if password == nil {
			return nil, errors.New("the key is encrypted and no password was given (set COSIGN_PASSWORD)")
		}
		pw, err := password()
		if err != nil {
			return nil, err
		}
		der, err = encrypted.Decrypt(block.Bytes, pw)
		if err != nil {
			// Decrypt's own message says only that the box did not open:
			// nearly always the password.
			return nil, fmt.Errorf("decrypting the key failed (is COSIGN_PASSWORD the key's password?): %v", err)
		}
	case pemPKCS8:
		der = block.Bytes
	case pemSEC1:
		priv, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing the EC private key: %v", err)
		}
		return newKey(priv)
	default:
		return nil, fmt.Errorf("a PEM %q block, not a private key kiln can sign with (want %q, %q or %q)", block.Type, pemSigstoreEncrypted, pemPKCS8, pemSEC1)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the PKCS #8 private key: %v", err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key: kiln signs with ECDSA P-256 keys only (cosign generate-key-pair makes one)", k)
	}
	return newKey(priv)
}

func newKey(priv *ecdsa.PrivateKey) (*Key, error) {
	if priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("an ECDSA %s key: kiln signs with P-256 keys only, which cosign verifies with SHA-256", priv.Curve.Params().Name)
	}
	return &Key{priv: priv}, nil
}

// GenerateKey makes a new P-256 key pair in cosign's format: the private
// key encrypted under password as cosign.key is, and the public key as
// PEM, for cosign verify --key.
func GenerateKey(password []byte) (privPEM, pubPEM []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	box, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, nil, err
	}
	k := &Key{priv: priv}
	return pem.EncodeToMemory(&pem.Block{Type: pemSigstoreEncrypted, Bytes: box}), k.PublicPEM(), nil
}

// PublicPEM is the public key as a PEM PKIX block, what cosign verify
// --key reads.
func (k *Key) PublicPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		// A P-256 public key always marshals.
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// String is the public key's fingerprint, as ssh-keygen prints them: a
// key in a log or an error names itself without giving itself away.
func (k *Key) String() string {
	der, _ := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	sum := sha256.Sum256(der)
	return "ecdsa-p256 SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// GoString keeps %#v from printing the private key.
func (k *Key) GoString() string { return "sign.Key(" + k.String() + ")" }

// Sign signs SHA-256(msg) with RFC 6979 nonces: the same key and message
// give the same ASN.1 signature every time.
func (k *Key) Sign(msg []byte) ([]byte, error) {
	sum := sha256.Sum256(msg)
	// A nil random source asks crypto/ecdsa for RFC 6979's deterministic
	// nonce instead of a random one.
	return k.priv.Sign(nil, sum[:], crypto.SHA256)
}

// verify checks sig over msg with the key's public part.
func (k *Key) verify(msg, sig []byte) bool {
	sum := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(&k.priv.PublicKey, sum[:], sig)
}

package sign

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Media types and annotation keys of cosign's signature and attestation
// images.
const (
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	DSSEMediaType          = "application/vnd.dsse.envelope.v1+json"
	InTotoPayloadType      = "application/vnd.in-toto+json"
	SignatureAnnotation    = "dev.cosignproject.cosign/signature"
	PredicateAnnotation    = "predicateType"
	cosignSignatureType    = "cosign container image signature"
)

// simpleSigning is the simple-signing payload cosign signs for an image.
// Its fields are in cosign's order and "optional" is null as cosign
// writes it without annotations, so the bytes are the ones cosign would
// sign for the same image.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// SimpleSigningPayload is the payload signing the manifest digest of an
// image in repository repo (registry/path, without tag or digest).
func SimpleSigningPayload(repo, digest string) []byte {
	var p simpleSigning
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = digest
	p.Critical.Type = cosignSignatureType
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // strings only
	}
	return b
}

// PAE is DSSE's pre-authentication encoding of a payload: what the
// signature of an envelope covers, so that the payload type is signed
// too.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// envelope is a DSSE envelope with one signature. keyid is empty, as in
// cosign's envelopes: the verifier is told the key.
type envelope struct {
	PayloadType string              `json:"payloadType"`
	Payload     string              `json:"payload"`
	Signatures  []envelopeSignature `json:"signatures"`
}

type envelopeSignature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// Envelope signs an in-toto statement into a DSSE envelope.
func Envelope(statement []byte, k *Key) ([]byte, error) {
	sig, err := k.Sign(PAE(InTotoPayloadType, statement))
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{
		PayloadType: InTotoPayloadType,
		Payload:     base64.StdEncoding.EncodeToString(statement),
		Signatures:  []envelopeSignature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
}

// statement is what kiln reads of an in-toto statement before signing
// it: cosign's verifier wants a subject naming the image and files the
// attestation under its predicate type.
type statement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
}

// checkStatement parses an in-toto statement and checks that one of its
// subjects is the image digest ("sha256:<hex>"), which cosign
// verify-attestation requires. It returns the predicate type.
func checkStatement(b []byte, digest string) (string, error) {
	var st statement
	if err := json.Unmarshal(b, &st); err != nil {
		return "", fmt.Errorf("the attestation is not an in-toto statement: %v", err)
	}
	switch st.Type {
	case "https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1":
	default:
		return "", fmt.Errorf("the attestation's _type is %q, not an in-toto statement (https://in-toto.io/Statement/v1)", st.Type)
	}
	if st.PredicateType == "" {
		return "", errors.New("the in-toto statement has no predicateType")
	}
	for _, s := range st.Subject {
		if "sha256:"+s.Digest["sha256"] == digest {
			return st.PredicateType, nil
		}
	}
	return "", fmt.Errorf("no subject of the in-toto statement is %s, the image signed: cosign verify-attestation would reject it (make the statement for this image)", digest)
}

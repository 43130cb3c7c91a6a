// Package jsondoc encodes the JSON documents kiln writes whose bytes are
// hashed: image manifests, configs, indexes and attestations.
package jsondoc

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Marshal encodes v as a document: encoding/json over frozen structs
// writes fields in declaration order and map keys sorted. HTML escaping is
// off, as in the image-spec's own examples, and the trailing newline of
// Encoder is dropped so that a document is its bytes.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding %T: %w", v, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

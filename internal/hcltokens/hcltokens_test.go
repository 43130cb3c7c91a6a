package hcltokens

import (
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

func TestMap(t *testing.T) {
	for _, tt := range []struct {
		name string
		m    map[string]string
		want string
	}{
		{"nil", nil, "a = {}\n"},
		{"empty", map[string]string{}, "a = {}\n"},
		{"one entry stays on its own line", map[string]string{"linux/amd64": "sha256:1"},
			"a = {\n  \"linux/amd64\" = \"sha256:1\"\n}\n"},
		{"sorted by key", map[string]string{"b": "2", "c": "3", "a": "1"},
			"a = {\n  \"a\" = \"1\"\n  \"b\" = \"2\"\n  \"c\" = \"3\"\n}\n"},
		{"quotes and template sequences escaped", map[string]string{"x\"y": "${z}\n"},
			"a = {\n  \"x\\\"y\" = \"$${z}\\n\"\n}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := hclwrite.NewEmptyFile()
			f.Body().SetAttributeRaw("a", Map(tt.m))
			if got := string(hclwrite.Format(f.Bytes())); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

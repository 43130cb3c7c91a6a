package stdlib

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/url"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty-yaml"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Functions returns every function build.hcl may call, with file, filesha256
// and glob reading relative to baseDir (the build file's folder). The map is
// new on each call, so callers may add their own functions to it.
func Functions(baseDir string) map[string]function.Function {
	fs := map[string]function.Function{
		// numbers
		"abs":      stdlib.AbsoluteFunc,
		"ceil":     stdlib.CeilFunc,
		"floor":    stdlib.FloorFunc,
		"log":      stdlib.LogFunc,
		"max":      stdlib.MaxFunc,
		"min":      stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc,
		"pow":      stdlib.PowFunc,
		"signum":   stdlib.SignumFunc,
		"int":      stdlib.IntFunc,

		// strings
		"chomp":         stdlib.ChompFunc,
		"endswith":      endsWithFunc,
		"format":        stdlib.FormatFunc,
		"formatlist":    stdlib.FormatListFunc,
		"indent":        stdlib.IndentFunc,
		"join":          stdlib.JoinFunc,
		"lower":         stdlib.LowerFunc,
		"regex":         stdlib.RegexFunc,
		"regexall":      stdlib.RegexAllFunc,
		"regex_replace": stdlib.RegexReplaceFunc,
		"replace":       stdlib.ReplaceFunc,
		"split":         stdlib.SplitFunc,
		"startswith":    startsWithFunc,
		"strlen":        stdlib.StrlenFunc,
		"strrev":        stdlib.ReverseFunc,
		"substr":        stdlib.SubstrFunc,
		"title":         stdlib.TitleFunc,
		"trim":          stdlib.TrimFunc,
		"trimprefix":    stdlib.TrimPrefixFunc,
		"trimspace":     stdlib.TrimSpaceFunc,
		"trimsuffix":    stdlib.TrimSuffixFunc,
		"upper":         stdlib.UpperFunc,

		// collections
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"index":           stdlib.IndexFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"lookup":          stdlib.LookupFunc,
		"merge":           stdlib.MergeFunc,
		"range":           stdlib.RangeFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,

		// types
		"tobool":   stdlib.MakeToFunc(cty.Bool),
		"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":    stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber": stdlib.MakeToFunc(cty.Number),
		"toset":    stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring": stdlib.MakeToFunc(cty.String),
		"try":      tryfunc.TryFunc,
		"can":      tryfunc.CanFunc,

		// encoding
		"base64decode": base64DecodeFunc,
		"base64encode": base64EncodeFunc,
		"csvdecode":    stdlib.CSVDecodeFunc,
		"jsondecode":   stdlib.JSONDecodeFunc,
		"jsonencode":   stdlib.JSONEncodeFunc,
		"urlencode":    urlEncodeFunc,
		"yamldecode":   yaml.YAMLDecodeFunc,
		"yamlencode":   yaml.YAMLEncodeFunc,

		// hashes
		"md5":    hashFunc(md5.New),
		"sha1":   hashFunc(sha1.New),
		"sha256": hashFunc(sha256.New),
		"sha512": hashFunc(sha512.New),

		// time, pure given its arguments
		"formatdate": stdlib.FormatDateFunc,
		"timeadd":    stdlib.TimeAddFunc,

		// paths, lexical only
		"basename": pathFunc(path.Base),
		"dirname":  pathFunc(path.Dir),
		"cleanpath": pathFunc(func(p string) string {
			return path.Clean(p)
		}),

		// filesystem, confined to baseDir
		"file":       fileFunc(baseDir),
		"filesha256": fileSHA256Func(baseDir),
		"fileexists": fileExistsFunc(baseDir),
		"glob":       globFunc(baseDir),
	}
	for _, name := range Banned() {
		fs[name] = bannedFunc(name)
	}
	return fs
}

// banned maps each function kiln refuses to what makes its result vary.
var banned = map[string]string{
	"timestamp":     "its result changes between runs",
	"plantimestamp": "its result changes between runs",
	"uuid":          "its result is random",
	"uuidv4":        "its result is random",
	"bcrypt":        "its result is salted at random",
	"abspath":       "its result depends on the machine's folder layout",
	"pathexpand":    "its result depends on the user running the build",
	"env":           "its result depends on the environment of the machine",
}

// Banned lists, sorted, the functions that exist only to explain why they
// cannot be used.
func Banned() []string {
	names := make([]string, 0, len(banned))
	for n := range banned {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func bannedFunc(name string) function.Function {
	why := banned[name]
	return function.New(&function.Spec{
		Description: name + " is not available in kiln.",
		VarParam:    &function.Parameter{Name: "args", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true, AllowDynamicType: true},
		Type: func([]cty.Value) (cty.Type, error) {
			return cty.NilType, fmt.Errorf("%s() is not available: %s, which would make builds irreproducible; use var or the kiln { source_date_epoch } setting (SOURCE_DATE_EPOCH) instead", name, why)
		},
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
			return cty.NilVal, fmt.Errorf("%s() is not available", name)
		},
	})
}

func stringFunc(desc string, params []function.Parameter, f func(args []string) (cty.Value, error)) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      params,
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			ss := make([]string, len(args))
			for i, a := range args {
				ss[i] = a.AsString()
			}
			return f(ss)
		},
	})
}

var oneString = []function.Parameter{{Name: "str", Type: cty.String}}

var base64EncodeFunc = stringFunc("Encodes a string's UTF-8 bytes as standard base64.", oneString, func(a []string) (cty.Value, error) {
	return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(a[0]))), nil
})

var base64DecodeFunc = stringFunc("Decodes standard base64 into a UTF-8 string.", oneString, func(a []string) (cty.Value, error) {
	b, err := base64.StdEncoding.DecodeString(a[0])
	if err != nil {
		return cty.NilVal, function.NewArgErrorf(0, "invalid base64: %v", err)
	}
	if !utf8.Valid(b) {
		return cty.NilVal, function.NewArgErrorf(0, "the decoded bytes are not valid UTF-8; use filesha256 or keep binary data in files")
	}
	return cty.StringVal(string(b)), nil
})

var urlEncodeFunc = stringFunc("Escapes a string for use in a URL query.", oneString, func(a []string) (cty.Value, error) {
	return cty.StringVal(url.QueryEscape(a[0])), nil
})

func hashFunc(h func() hash.Hash) function.Function {
	return stringFunc("Returns the lowercase hex digest of a string's UTF-8 bytes.", oneString, func(a []string) (cty.Value, error) {
		s := h()
		s.Write([]byte(a[0]))
		return cty.StringVal(hex.EncodeToString(s.Sum(nil))), nil
	})
}

func pathFunc(f func(string) string) function.Function {
	return stringFunc("Applies a lexical path operation (slash-separated).", []function.Parameter{{Name: "path", Type: cty.String}}, func(a []string) (cty.Value, error) {
		return cty.StringVal(f(a[0])), nil
	})
}

var startsWithFunc = function.New(&function.Spec{
	Description: "Reports whether str starts with prefix.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}, {Name: "prefix", Type: cty.String}},
	Type:        function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(strings.HasPrefix(args[0].AsString(), args[1].AsString())), nil
	},
})

var endsWithFunc = function.New(&function.Spec{
	Description: "Reports whether str ends with suffix.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}, {Name: "suffix", Type: cty.String}},
	Type:        function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(strings.HasSuffix(args[0].AsString(), args[1].AsString())), nil
	},
})

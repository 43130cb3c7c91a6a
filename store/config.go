package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/atomicfile"
	"github.com/kiln-build/kiln/internal/diagtext"
)

// ConfigFile is the name of the store's configuration, in its root. It
// lives with the store rather than with a user or a project: every kiln
// process on the store must apply the same budget.
const ConfigFile = "config.hcl"

// The default budget, after BuildKit's: a tenth of the store's
// filesystem, capped, so that a large disk is not filled by a build cache
// nobody asked to keep.
const (
	defaultShare = 10 // percent of the filesystem
	defaultCap   = 20 << 30
	// defaultFloor is the budget when the filesystem's size is unknown.
	defaultFloor = 2 << 30
)

// Config is the store's configuration: for now, its GC policy.
type Config struct {
	GC GCConfig
}

// GCConfig is the policy automatic collection applies (see docs/store.md).
// Sizes are bytes and durations nanoseconds once resolved; Set records
// which fields the file sets, the rest being defaults.
type GCConfig struct {
	// Auto turns automatic collection on (the default) or off for every
	// command on the store.
	Auto bool
	// KeepBytes is the store's budget: objects and cache mounts together.
	KeepBytes int64
	// KeepDuration keeps whatever was used more recently than this, even
	// over budget. 0: only the budget counts.
	KeepDuration time.Duration
	// MinFree starts a collection during a build when the store's
	// filesystem has less free space than this (Nix's min-free); 0: never.
	MinFree int64
	// SourcesKeepDuration keeps sources and fixed outputs (what is fetched
	// from outside, slow to get back) used more recently than this. Over
	// budget, intermediate results go before any source does.
	SourcesKeepDuration time.Duration
	// CacheKeepBytes is the budget of cache mounts within KeepBytes; the
	// least recently used caches over it are removed.
	CacheKeepBytes int64
	// CacheKeepDuration keeps caches used more recently than this.
	CacheKeepDuration time.Duration

	// Set names the keys the file sets (as ConfigKeys spells them).
	Set map[string]bool
}

// configFile is config.hcl as written. Values are strings so that a size
// reads "5GB" and a duration "48h", as the user typed them.
type configFile struct {
	GC *gcBlock `hcl:"gc,block"`
}

type gcBlock struct {
	Auto         *bool        `hcl:"auto,optional"`
	KeepBytes    *string      `hcl:"keep_bytes,optional"`
	KeepDuration *string      `hcl:"keep_duration,optional"`
	MinFree      *string      `hcl:"min_free,optional"`
	Sources      *sourcesRule `hcl:"sources,block"`
	Cache        *cacheRule   `hcl:"cache,block"`
}

type sourcesRule struct {
	KeepDuration *string `hcl:"keep_duration,optional"`
}

type cacheRule struct {
	KeepBytes    *string `hcl:"keep_bytes,optional"`
	KeepDuration *string `hcl:"keep_duration,optional"`
}

// configKey is one settable key: how to read its text into a GCConfig.
type configKey struct {
	name  string
	kind  string // "size", "duration" or "bool"
	apply func(c *GCConfig, v any)
	show  func(c GCConfig) string
}

var configKeys = []configKey{
	{"gc.auto", "bool", func(c *GCConfig, v any) { c.Auto = v.(bool) }, func(c GCConfig) string { return strconv.FormatBool(c.Auto) }},
	{"gc.keep_bytes", "size", func(c *GCConfig, v any) { c.KeepBytes = v.(int64) }, func(c GCConfig) string { return humanBytes(c.KeepBytes) }},
	{"gc.keep_duration", "duration", func(c *GCConfig, v any) { c.KeepDuration = v.(time.Duration) }, func(c GCConfig) string { return humanDuration(c.KeepDuration) }},
	{"gc.min_free", "size", func(c *GCConfig, v any) { c.MinFree = v.(int64) }, func(c GCConfig) string { return humanBytes(c.MinFree) }},
	{"gc.sources.keep_duration", "duration", func(c *GCConfig, v any) { c.SourcesKeepDuration = v.(time.Duration) }, func(c GCConfig) string { return humanDuration(c.SourcesKeepDuration) }},
	{"gc.cache.keep_bytes", "size", func(c *GCConfig, v any) { c.CacheKeepBytes = v.(int64) }, func(c GCConfig) string { return humanBytes(c.CacheKeepBytes) }},
	{"gc.cache.keep_duration", "duration", func(c *GCConfig, v any) { c.CacheKeepDuration = v.(time.Duration) }, func(c GCConfig) string { return humanDuration(c.CacheKeepDuration) }},
}

// ConfigKeys are the keys kiln store config shows and sets, in order.
func ConfigKeys() []string {
	names := make([]string, len(configKeys))
	for i, k := range configKeys {
		names[i] = k.name
	}
	return names
}

// Show returns the value of key as kiln store config prints it.
func (c GCConfig) Show(key string) string {
	for _, k := range configKeys {
		if k.name == key {
			return k.show(c)
		}
	}
	return ""
}

// LoadConfig reads the configuration of the store at root, filling what
// the file does not set with defaults (the budget's from the size of
// root's filesystem). A missing file is all defaults. Errors in the file
// name it with line and column.
func LoadConfig(root string) (Config, error) {
	path := filepath.Join(root, ConfigFile)
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return defaultConfig(root, nil), nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("reading the store configuration: %w", err)
	}
	vals, diags := parseConfig(path, src)
	if diags.HasErrors() {
		return Config{}, fmt.Errorf("%s\nfix %s, or set values with kiln store config KEY=VALUE", diagtext.Lines(diags), path)
	}
	return defaultConfig(root, vals), nil
}

// parseConfig decodes src into the values it sets, by key.
func parseConfig(path string, src []byte) (map[string]any, hcl.Diagnostics) {
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		return nil, diags
	}
	var cf configFile
	if diags := gohcl.DecodeBody(f.Body, nil, &cf); diags.HasErrors() {
		return nil, diags
	}
	vals := map[string]any{}
	if cf.GC == nil {
		return vals, nil
	}
	attrs := map[string]*string{"gc.keep_bytes": cf.GC.KeepBytes, "gc.keep_duration": cf.GC.KeepDuration, "gc.min_free": cf.GC.MinFree}
	if s := cf.GC.Sources; s != nil {
		attrs["gc.sources.keep_duration"] = s.KeepDuration
	}
	if c := cf.GC.Cache; c != nil {
		attrs["gc.cache.keep_bytes"] = c.KeepBytes
		attrs["gc.cache.keep_duration"] = c.KeepDuration
	}
	if cf.GC.Auto != nil {
		vals["gc.auto"] = *cf.GC.Auto
	}
	for name, p := range attrs {
		if p == nil {
			continue
		}
		v, err := parseValue(name, *p)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for " + strings.TrimPrefix(name, "gc."),
				Detail:   err.Error(),
				Subject:  attrRange(f.Body, name).Ptr(),
			})
			continue
		}
		vals[name] = v
	}
	return vals, diags
}

// attrRange finds the attribute of a dotted key in the file, for a
// diagnostic's position.
func attrRange(body hcl.Body, name string) hcl.Range {
	parts := strings.Split(name, ".")
	for _, blk := range parts[:len(parts)-1] {
		content, _, _ := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: blk}}})
		if len(content.Blocks) == 0 {
			return hcl.Range{}
		}
		body = content.Blocks[0].Body
	}
	attr := parts[len(parts)-1]
	content, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: attr}}})
	if a, ok := content.Attributes[attr]; ok {
		return a.Expr.Range()
	}
	return hcl.Range{}
}

// parseValue reads the text of key name.
func parseValue(name, text string) (any, error) {
	for _, k := range configKeys {
		if k.name != name {
			continue
		}
		switch k.kind {
		case "size":
			n, err := units.RAMInBytes(strings.TrimSpace(text))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%q is not a size: write bytes with a unit, such as 512MB or 10GB", text)
			}
			return n, nil
		case "duration":
			d, err := parseDuration(text)
			if err != nil {
				return nil, err
			}
			return d, nil
		case "bool":
			b, err := strconv.ParseBool(text)
			if err != nil {
				return nil, fmt.Errorf("%q is not true or false", text)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("unknown key %q: the keys are %s", name, strings.Join(ConfigKeys(), ", "))
}

// parseDuration is time.ParseDuration that also takes days ("30d"), the
// unit GC policies are usually thought in.
func parseDuration(text string) (time.Duration, error) {
	t := strings.TrimSpace(text)
	if days, ok := strings.CutSuffix(t, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n >= 0 {
			return time.Duration(n * float64(24*time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration: write it as 48h, 90m or 30d", text)
	}
	return d, nil
}

// defaultConfig applies vals (by key) over the defaults.
func defaultConfig(root string, vals map[string]any) Config {
	c := GCConfig{Auto: true, KeepBytes: DefaultKeepBytes(root), Set: map[string]bool{}}
	for _, k := range configKeys {
		if v, ok := vals[k.name]; ok {
			k.apply(&c, v)
			c.Set[k.name] = true
		}
	}
	if !c.Set["gc.cache.keep_bytes"] {
		// Caches are a speed-up, not results: a quarter of the budget,
		// as BuildKit gives its easily reproducible records a small one.
		c.CacheKeepBytes = c.KeepBytes / 4
	}
	return Config{GC: c}
}

// DefaultKeepBytes is the budget of a store at root that sets none: a
// tenth of its filesystem, at most 20 GB (2 GB when the size is unknown).
func DefaultKeepBytes(root string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(existingParent(root), &st); err != nil {
		return defaultFloor
	}
	size := int64(st.Blocks) * int64(st.Bsize)
	return min(size*defaultShare/100, defaultCap)
}

// existingParent is path or its nearest existing parent, for statfs of a
// store not created yet.
func existingParent(path string) string {
	for {
		if _, err := os.Stat(path); err == nil {
			return path
		}
		parent := filepath.Dir(path)
		if parent == path {
			return path
		}
		path = parent
	}
}

// SetConfig sets key=value pairs in the configuration of the store at
// root, checking each, and rewrites the file whole (atomically). An empty
// value removes the key, back to its default.
func SetConfig(root string, pairs map[string]string) error {
	path := filepath.Join(root, ConfigFile)
	src, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading the store configuration: %w", err)
	}
	texts := map[string]string{}
	if len(src) > 0 {
		if _, diags := parseConfig(path, src); diags.HasErrors() {
			return fmt.Errorf("%s\nfix %s by hand first", diagtext.Lines(diags), path)
		}
		texts = configTexts(src)
	}
	for k, v := range pairs {
		if v == "" {
			if _, err := parseValue(k, "0"); err != nil && strings.HasPrefix(err.Error(), "unknown key") {
				return err
			}
			delete(texts, k)
			continue
		}
		if _, err := parseValue(k, v); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		texts[k] = v
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return unwritable(root, err)
	}
	return atomicfile.WriteFile(path, writeConfig(texts), 0o644)
}

// configTexts returns the values a valid file sets, as written.
func configTexts(src []byte) map[string]string {
	f, _ := hclparse.NewParser().ParseHCL(src, ConfigFile)
	texts := map[string]string{}
	var cf configFile
	if gohcl.DecodeBody(f.Body, nil, &cf).HasErrors() || cf.GC == nil {
		return texts
	}
	put := func(k string, p *string) {
		if p != nil {
			texts[k] = *p
		}
	}
	if cf.GC.Auto != nil {
		texts["gc.auto"] = strconv.FormatBool(*cf.GC.Auto)
	}
	put("gc.keep_bytes", cf.GC.KeepBytes)
	put("gc.keep_duration", cf.GC.KeepDuration)
	put("gc.min_free", cf.GC.MinFree)
	if s := cf.GC.Sources; s != nil {
		put("gc.sources.keep_duration", s.KeepDuration)
	}
	if c := cf.GC.Cache; c != nil {
		put("gc.cache.keep_bytes", c.KeepBytes)
		put("gc.cache.keep_duration", c.KeepDuration)
	}
	return texts
}

// writeConfig renders the set keys as config.hcl, in ConfigKeys order.
func writeConfig(texts map[string]string) []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte("# The store's configuration: see docs/store.md. Set values with\n# kiln store config KEY=VALUE.\n")}})
	gc := body.AppendNewBlock("gc", nil).Body()
	blocks := map[string]*hclwrite.Body{}
	for _, k := range configKeys {
		text, ok := texts[k.name]
		if !ok {
			continue
		}
		parts := strings.Split(k.name, ".")
		b := gc
		if len(parts) == 3 {
			if blocks[parts[1]] == nil {
				blocks[parts[1]] = gc.AppendNewBlock(parts[1], nil).Body()
			}
			b = blocks[parts[1]]
		}
		attr := parts[len(parts)-1]
		if k.kind == "bool" {
			v, _ := strconv.ParseBool(text)
			b.SetAttributeValue(attr, cty.BoolVal(v))
		} else {
			b.SetAttributeValue(attr, cty.StringVal(text))
		}
	}
	return hclwrite.Format(f.Bytes())
}

// SortedSet lists the keys the file sets, sorted.
func (c GCConfig) SortedSet() []string {
	var ks []string
	for k := range c.Set {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func humanBytes(n int64) string {
	if n == 0 {
		return "0"
	}
	return units.BytesSize(float64(n)) // binary, as RAMInBytes reads "5GB"
}

func humanDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

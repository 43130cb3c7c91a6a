package compiler

import (
	"sort"
	"strconv"
)

// appendDerivation appends d's canonical encoding (docs/derivations.md)
// without reflection: the compiler hashes tens of thousands of derivations
// per build. It is the only encoder of the format; keys are written in
// sorted order by hand and optional fields follow their omitempty tags.
// TestFastCanonicalMatches holds it to a reflection-based oracle over every
// field reachable from Derivation, so a field added to the structs and not
// here fails the test, as does a field of a kind the test cannot fill.
func appendDerivation(b []byte, d *Derivation) []byte {
	b = append(b, '{')
	if d.Diff != nil {
		b = append(b, `"diff":{},`...)
	}
	b = append(b, `"epoch":`...)
	b = strconv.AppendInt(b, d.SourceDateEpoch, 10)
	if e := d.Exec; e != nil {
		b = append(b, `,"exec":`...)
		b = appendExec(b, e)
	}
	if f := d.File; f != nil {
		b = append(b, `,"file":`...)
		b = appendFile(b, f)
	}
	if len(d.Inputs) > 0 {
		b = append(b, `,"inputs":[`...)
		for i, in := range d.Inputs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, string(in))
		}
		b = append(b, ']')
	}
	b = append(b, `,"kind":`...)
	b = appendString(b, string(d.Kind))
	if d.Merge != nil {
		b = append(b, `,"merge":{}`...)
	}
	if d.Platform != "" {
		b = append(b, `,"platform":`...)
		b = appendString(b, d.Platform)
	}
	if s := d.Source; s != nil {
		b = append(b, `,"source":{`...)
		sep := false
		if len(s.Attrs) > 0 {
			b = append(b, `"attrs":{`...)
			keys := make([]string, 0, len(s.Attrs))
			for k := range s.Attrs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for i, k := range keys {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, k)
				b = append(b, ':')
				b = appendString(b, s.Attrs[k])
			}
			b = append(b, '}')
			sep = true
		}
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"id":`...)
		b = appendString(b, s.Identifier)
		if s.Pin != "" {
			b = append(b, `,"pin":`...)
			b = appendString(b, s.Pin)
		}
		b = append(b, `,"type":`...)
		b = appendString(b, s.Type)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendExec(b []byte, e *ExecOp) []byte {
	b = append(b, `{"args":`...)
	b = appendStrings(b, e.Args)
	b = append(b, `,"cwd":`...)
	b = appendString(b, e.Cwd)
	b = append(b, `,"env":`...)
	b = appendStrings(b, e.Env)
	b = append(b, `,"hostname":`...)
	b = appendString(b, e.Hostname)
	if e.ImageEnv {
		b = append(b, `,"image_env":true`...)
	}
	if len(e.ImpureEnv) > 0 {
		b = append(b, `,"impure_env":`...)
		b = appendStrings(b, e.ImpureEnv)
	}
	if len(e.Mounts) > 0 {
		b = append(b, `,"mounts":[`...)
		for i, m := range e.Mounts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendMount(b, &m)
		}
		b = append(b, ']')
	}
	b = append(b, `,"network":`...)
	b = appendString(b, e.Network)
	if e.OutputHash != "" {
		b = append(b, `,"output_hash":`...)
		b = appendString(b, e.OutputHash)
	}
	b = append(b, `,"root":`...)
	b = strconv.AppendInt(b, int64(e.Root), 10)
	if e.Security != "" {
		b = append(b, `,"security":`...)
		b = appendString(b, e.Security)
	}
	if e.User != "" {
		b = append(b, `,"user":`...)
		b = appendString(b, e.User)
	}
	return append(b, '}')
}

func appendMount(b []byte, m *Mount) []byte {
	b = append(b, '{')
	if m.CacheID != "" {
		b = append(b, `"cache_id":`...)
		b = appendString(b, m.CacheID)
		b = append(b, ',')
	}
	b = append(b, `"dest":`...)
	b = appendString(b, m.Dest)
	b = append(b, `,"input":`...)
	b = strconv.AppendInt(b, int64(m.Input), 10)
	if m.Mode != 0 {
		b = append(b, `,"mode":`...)
		b = strconv.AppendUint(b, uint64(m.Mode), 10)
	}
	if m.ReadOnly {
		b = append(b, `,"readonly":true`...)
	}
	if m.Required {
		b = append(b, `,"required":true`...)
	}
	if m.SecretEnv != "" {
		b = append(b, `,"secret_env":`...)
		b = appendString(b, m.SecretEnv)
	}
	if m.SecretID != "" {
		b = append(b, `,"secret_id":`...)
		b = appendString(b, m.SecretID)
	}
	if m.Selector != "" {
		b = append(b, `,"selector":`...)
		b = appendString(b, m.Selector)
	}
	if m.Sharing != "" {
		b = append(b, `,"sharing":`...)
		b = appendString(b, m.Sharing)
	}
	if m.SizeBytes != 0 {
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, m.SizeBytes, 10)
	}
	if m.SSHID != "" {
		b = append(b, `,"ssh_id":`...)
		b = appendString(b, m.SSHID)
	}
	b = append(b, `,"type":`...)
	b = appendString(b, m.Type)
	return append(b, '}')
}

func appendFile(b []byte, f *FileOp) []byte {
	b = append(b, `{"actions":`...)
	if f.Actions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range f.Actions {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAction(b, &f.Actions[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"base":`...)
	b = strconv.AppendInt(b, int64(f.Base), 10)
	return append(b, '}')
}

func appendAction(b []byte, a *FileAction) []byte {
	b = append(b, `{"action":`...)
	b = appendString(b, a.Action)
	if a.AllowNotFound {
		b = append(b, `,"allow_not_found":true`...)
	}
	if a.ChmodSet {
		b = append(b, `,"chmod_set":true`...)
	}
	if a.Data != "" {
		b = append(b, `,"data":`...)
		b = appendString(b, a.Data)
	}
	b = append(b, `,"gid":`...)
	b = strconv.AppendInt(b, int64(a.GID), 10)
	if a.Mode != 0 {
		b = append(b, `,"mode":`...)
		b = strconv.AppendUint(b, uint64(a.Mode), 10)
	}
	if a.Owner != "" {
		b = append(b, `,"owner":`...)
		b = appendString(b, a.Owner)
	}
	if a.Parents {
		b = append(b, `,"parents":true`...)
	}
	b = append(b, `,"path":`...)
	b = appendString(b, a.Path)
	if a.Src != "" {
		b = append(b, `,"src":`...)
		b = appendString(b, a.Src)
	}
	if a.SrcInput != 0 {
		b = append(b, `,"src_input":`...)
		b = strconv.AppendInt(b, int64(a.SrcInput), 10)
	}
	if a.Target != "" {
		b = append(b, `,"target":`...)
		b = appendString(b, a.Target)
	}
	b = append(b, `,"uid":`...)
	b = strconv.AppendInt(b, int64(a.UID), 10)
	return append(b, '}')
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// plain8 reports whether none of the first 8 bytes of s is a control
// character, '"' or '\\' (the bytes appendString escapes).
func plain8(s string) bool { return plainWord(load8(s)) }

// load8 is the first 8 bytes of s as a little-endian word (one load).
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWord is plain8 of a loaded word, testing its bytes at once:
// (x - n*0x01..) & ^x & 0x80.. is non-zero exactly when a byte of x is
// below n (n <= 128), and x ^ c*0x01.. has a zero byte where x has c.
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := w^(ones*'"'), w^(ones*'\\')
	return ((w-ones*0x20)&^w|(q-ones)&^q|(bs-ones)&^bs)&highs == 0
}

// appendString writes s as a JSON string escaping only '"', '\\' and the
// control characters, so that the bytes of s appear unchanged.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; ; i++ {
		// Eight bytes at a time while none needs escaping: most strings
		// (digests, paths, variables) have none, and the byte at a time
		// loop was the encoder's largest cost.
		for len(s)-i >= 8 && plainWord(load8(s[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

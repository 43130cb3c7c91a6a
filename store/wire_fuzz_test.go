package store

import "testing"

// FuzzWireDecode: a frame from another process on the index socket is
// decoded or refused, never a panic or an allocation beyond its size.
func FuzzWireDecode(f *testing.F) {
	f.Add(encodeHello(hello{Proto: 1, Schema: 2, PID: 3}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeHello(&dec{b: b})
		_, _ = decodeRequest(&dec{b: b})
		_, _ = decodeReply(&dec{b: b})
	})
}

// FuzzParseConfig: config.hcl is parsed or reported with positions,
// never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("gc {\n  keep_bytes = \"5GB\"\n  keep_duration = \"48h\"\n  min_free = \"1GB\"\n}\n"))
	f.Add([]byte("gc { auto = false\n sources { keep_duration = \"720h\" }\n cache { keep_bytes = \"1GB\" } }\n"))
	f.Add([]byte("gc {"))
	f.Add([]byte("x = 1"))
	f.Fuzz(func(t *testing.T, src []byte) {
		_, _ = parseConfig("config.hcl", src)
	})
}

package lang

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-build/kiln/internal/lazyre"
	"github.com/kiln-build/kiln/internal/platform"
)

var sizeRe = lazyre.New(`^(?i)\s*(\d+)\s*([kmgt]?)(i?b)?\s*$`)

// parseSize reads a byte size: a number of bytes or one with a k, m, g or t
// suffix (binary multiples, as docker --memory).
func parseSize(s string) (int64, error) {
	m := sizeRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size; write a number of bytes or one with a unit, like \"512m\" or \"2g\"", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[strings.ToLower(m[2])]
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is too large", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("%q is zero; give a positive size or leave the attribute out", s)
	}
	return n << shift, nil
}

// maxDuration bounds timeouts to something a build can mean.
const maxDuration = 7 * 24 * time.Hour

// parseDuration reads a duration as whole seconds: a plain number is
// seconds, otherwise Go duration syntax ("90s", "10m", "1h30m").
func parseDuration(s string) (int64, error) {
	s = strings.TrimSpace(s)
	// A plain number ends in a digit; "10m" would only cost ParseInt an
	// error value.
	if s != "" && s[len(s)-1] >= '0' && s[len(s)-1] <= '9' {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			s = fmt.Sprintf("%ds", n)
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write one like \"90s\", \"10m\" or \"1h30m\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not positive; give a positive duration or leave the attribute out", s)
	}
	if d > maxDuration {
		return 0, fmt.Errorf("%q is longer than a week, the longest timeout kiln accepts", s)
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%q is not a whole number of seconds", s)
	}
	return int64(d / time.Second), nil
}

// parseMode reads an octal file mode ("0755", "644") and returns it in
// canonical four-digit form, so that "755" and "0755" give one digest.
func parseMode(s string) (string, uint32, error) {
	// ^0?[0-7]{1,4}$: one to four octal digits, five with a leading 0.
	ok := len(s) >= 1 && len(s) <= 5 && (len(s) < 5 || s[0] == '0')
	var n uint32
	for i := 0; i < len(s) && ok; i++ {
		ok = s[i] >= '0' && s[i] <= '7'
		n = n<<3 | uint32(s[i]-'0')
	}
	if !ok {
		return "", 0, fmt.Errorf("%q is not an octal file mode; write one like \"0755\" or \"0644\" (as a quoted string)", s)
	}
	// At most four significant octal digits: n <= 0o7777. The canonical
	// form is %04o, written here without fmt, as it is for every mode.
	m := [4]byte{'0' + byte(n>>9&7), '0' + byte(n>>6&7), '0' + byte(n>>3&7), '0' + byte(n&7)}
	return string(m[:]), n, nil
}

// checkPlatform accepts what kiln's platform rules accept and keeps the
// string as written: it is hashed into derivations, and normalising it here
// would change the digest of every stage that says "linux/arm64/v8".
func checkPlatform(s string) error {
	_, err := platform.Parse(s)
	return err
}

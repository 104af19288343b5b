package orgstore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzClean: whatever a checkpoint's text holds, what is stored is text
// PostgreSQL takes (valid UTF-8, no NUL), and text that was already so is
// stored unchanged.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "mac-01.local", "lab\x00", "\xff\xfe", "caf\u00e9", "a\x00b\xc3", strings.Repeat("\x00", 5), "\uFFFD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := clean(s)
		if !utf8.ValidString(c) || strings.IndexByte(c, 0) >= 0 {
			t.Fatalf("clean(%q) = %q: not storable", s, c)
		}
		if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && c != s {
			t.Fatalf("clean(%q) = %q: changed storable text", s, c)
		}
	})
}

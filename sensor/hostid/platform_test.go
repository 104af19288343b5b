package hostid

import "testing"

func TestParsePlatform(t *testing.T) {
	for in, want := range map[string]Platform{
		"darwin": MacOS, "macOS": MacOS, "Mac OS X": MacOS, "ubuntu": Linux, "Windows": Windows,
		"ipados": IOS, "iOS": IOS, "chrome": Other, "": "",
	} {
		if got := ParsePlatform(in); got != want {
			t.Errorf("ParsePlatform(%q) = %q, want %q", in, got, want)
		}
	}
}

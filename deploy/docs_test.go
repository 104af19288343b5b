package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/internal/testenv"
)

// TestDocsListWhatCIInstalls: every package .ci/run installs is named in
// the README's list and in docs/packaging.md, so a developer installs what
// CI has.
func TestDocsListWhatCIInstalls(t *testing.T) {
	ci, err := os.ReadFile(filepath.Join("..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)pkgs=\(([^)]*)\)`).FindSubmatch(ci)
	if m == nil {
		t.Fatal(".ci/run: no pkgs=(...) list")
	}
	pkgs := strings.Fields(string(m[1]))
	if len(pkgs) < 10 {
		t.Fatalf(".ci/run installs only %q?", pkgs)
	}
	for _, doc := range []string{"README.md", filepath.Join("docs", "packaging.md")} {
		b, err := os.ReadFile(filepath.Join("..", doc))
		if err != nil {
			t.Fatal(err)
		}
		words := map[string]bool{}
		for _, w := range strings.FieldsFunc(string(b), func(r rune) bool {
			return r == ' ' || r == '`' || r == '\n' || r == ',' || r == '(' || r == ')' || r == ';'
		}) {
			words[w] = true
		}
		for _, p := range pkgs {
			if !words[p] {
				t.Errorf("%s does not list %s, which .ci/run installs", doc, p)
			}
		}
	}
}

// TestLicenseFiles: the package's license statement has its texts: LICENSE
// is the Apache License 2.0, the Debian copyright file is machine-readable
// and says so for launchtap's own files.
func TestLicenseFiles(t *testing.T) {
	lic, err := os.ReadFile(filepath.Join("..", "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(lic), "Apache License") || !strings.Contains(string(lic), "Version 2.0, January 2004") || len(lic) < 10000 {
		t.Error("LICENSE is not the Apache License 2.0 text")
	}
	cp, err := os.ReadFile(filepath.Join("deb", "copyright"))
	if err != nil {
		t.Fatal(err)
	}
	c := string(cp)
	for _, want := range []string{"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
		"Files: *\nCopyright: ", "License: Apache-2.0\n", "\nLicense: Apache-2.0\n Licensed under", "\nLicense: MIT\n", "\nLicense: BSD-3-clause\n", "\nLicense: MPL-2.0\n"} {
		if !strings.Contains(c, want) {
			t.Errorf("deb/copyright lacks %q", want)
		}
	}
	// Every short name used has its License paragraph.
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^License: (.+)$`).FindAllStringSubmatch(c, -1) {
		for _, n := range regexp.MustCompile(` (?:and|or) `).Split(m[1], -1) {
			used[n] = true
		}
	}
	for n := range used {
		if !strings.Contains(c, "\nLicense: "+n+"\n ") {
			t.Errorf("deb/copyright uses %q without its license paragraph", n)
		}
	}
}

// TestChangelog: deploy/deb/changelog parses as a Debian changelog and its
// newest entry is a release version.
func TestChangelog(t *testing.T) {
	parse, err := exec.LookPath("dpkg-parsechangelog")
	if err != nil {
		testenv.Skip(t, "dpkg-parsechangelog not installed (apt-get install dpkg-dev)")
	}
	out, err := exec.Command(parse, "-l", filepath.Join("deb", "changelog"), "-S", "Version").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v := strings.TrimSpace(string(out)); !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Errorf("newest changelog entry %q is not a release version", v)
	}
}

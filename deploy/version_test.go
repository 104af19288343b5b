package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/internal/testenv"
)

// TestVersionFromTags runs version.sh in a scratch repository through a
// release history and checks each version, then that dpkg sorts them in
// the order they were made.
func TestVersionFromTags(t *testing.T) {
	for _, tool := range []string{"git", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Skip(t, "%s not installed", tool)
		}
	}
	repo := t.TempDir()
	script, err := os.ReadFile("version.sh")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(repo, "deploy"), 0o755)
	os.WriteFile(filepath.Join(repo, "deploy", "version.sh"), script, 0o755)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	n := 0
	commit := func() {
		n++
		os.WriteFile(filepath.Join(repo, "f"), []byte{byte(n)}, 0o644)
		run("git", "add", "-A")
		run("git", "commit", "-qm", "c")
	}
	version := func() string { return run("sh", "deploy/version.sh") }

	run("git", "init", "-q")
	commit()
	var seen []string
	check := func(match string) {
		t.Helper()
		v := version()
		if !strings.HasPrefix(v, match) || strings.ContainsAny(v, " -_/") {
			t.Errorf("version %q, want it to start %q and be a Debian upstream version", v, match)
		}
		seen = append(seen, v)
	}
	check("0.0.0+1.g") // no tag yet
	commit()
	check("0.0.0+2.g")
	run("git", "tag", "v0.2.0")
	check("0.2.0")
	if v := version(); v != "0.2.0" {
		t.Errorf("on the tag: %q, want 0.2.0", v)
	}
	for range 9 {
		commit()
	}
	check("0.2.0+9.g")
	commit()
	check("0.2.0+10.g") // sorts after +9: dpkg compares digit runs as numbers
	commit()
	run("git", "tag", "v0.3.0-rc1")
	check("0.3.0~rc1") // a pre-release sorts before its release
	commit()
	check("0.3.0~rc1+1.g")
	run("git", "tag", "v0.3.0")
	check("0.3.0")
	os.WriteFile(filepath.Join(repo, "f"), []byte("edited"), 0o644)
	if v := version(); v != "0.3.0+0.dirty" {
		t.Errorf("uncommitted changes on a tag: %q, want 0.3.0+0.dirty", v)
	} else {
		seen = append(seen, v)
	}
	for i := 1; i < len(seen); i++ {
		if err := exec.Command("dpkg", "--compare-versions", seen[i-1], "lt", seen[i]).Run(); err != nil {
			t.Errorf("dpkg sorts %s before %s", seen[i], seen[i-1])
		}
	}
}

// TestMaintainerScripts: the scripts are POSIX sh that parses, and adduser,
// which preinst runs before the package's files exist, is a Pre-Depends.
func TestMaintainerScripts(t *testing.T) {
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if out, err := exec.Command("sh", "-n", filepath.Join("deb", s)).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", s, err, out)
		}
	}
	pre, _ := os.ReadFile(filepath.Join("deb", "preinst"))
	cfg, _ := os.ReadFile("nfpm.yaml")
	if strings.Contains(string(pre), "adduser") && !strings.Contains(string(cfg), "predepends:\n    - adduser") {
		t.Error("preinst runs adduser but nfpm.yaml does not Pre-Depend on it")
	}
	for _, want := range []string{"/usr/share/man/man1/launchtap.1.gz", "/usr/share/bash-completion/completions/launchtap",
		"/usr/share/zsh/vendor-completions/_launchtap", "/usr/share/doc/launchtap/copyright", "/usr/share/doc/launchtap/changelog.gz"} {
		if !strings.Contains(string(cfg), "dst: "+want+"\n") {
			t.Errorf("nfpm.yaml does not install %s", want)
		}
	}
}

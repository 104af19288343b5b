package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplayToRsyslog is issue 6's end-to-end check: `launchtap replay
// --syslog tcp://...` delivers the demo alert to a real rsyslog, which parses
// it as RFC 5424 and splits the structured data; every field must arrive.
func TestReplayToRsyslog(t *testing.T) {
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/rsyslogd"); serr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("CI=true requires rsyslogd (apt-get install rsyslog)")
			}
			t.Skip("rsyslogd not installed (apt-get install rsyslog)")
		}
		bin = "/usr/sbin/rsyslogd"
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	out := filepath.Join(dir, "out.json")
	conf := filepath.Join(dir, "rsyslog.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k")
module(load="imtcp")
module(load="mmpstrucdata")
template(name="dump" type="list" option.jsonf="on") {
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="appname" name="app-name" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="vars" name="$!" format="jsonf")
}
ruleset(name="r" parser=["rsyslog.rfc5424"]) {
  action(type="mmpstrucdata")
  action(type="omfile" file=%q template="dump")
}
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="r")
`, dir, out, port)), 0o600)
	cmd := exec.Command(bin, "-n", "-f", conf, "-i", filepath.Join(dir, "pid"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("rsyslogd did not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}

	code, alerts, stderr := replay(t, nil, demoArgs("1", "--syslog", fmt.Sprintf("tcp://127.0.0.1:%d", port))...)
	if code != 0 || !strings.Contains(stderr, "delivered=2") {
		t.Fatalf("exit %d, want the alert and the final SENSOR-STATS delivered:\n%s", code, stderr)
	}
	var want map[string]any
	json.Unmarshal([]byte(alerts), &want)

	type message struct {
		MsgID, Hostname, Appname, Msg string
		Vars                          string
	}
	// The alert, then the SENSOR-STATS sent as the replay ended.
	var got, stats message
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if f, err := os.Open(out); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var m message
				json.Unmarshal(sc.Bytes(), &m)
				switch m.MsgID {
				case "BEACON":
					got = m
				case "SENSOR-STATS":
					stats = m
				}
			}
			f.Close()
		}
		if got.MsgID == "BEACON" && stats.MsgID == "SENSOR-STATS" || time.Now().After(deadline) {
			break
		}
	}
	var statsSD struct {
		SD map[string]map[string]string `json:"rfc5424-sd"`
	}
	if err := json.Unmarshal([]byte(stats.Vars), &statsSD); err != nil {
		t.Fatalf("SENSOR-STATS structured data: %v: %q", err, stats.Vars)
	}
	// The counters, with the demo's values.
	for k, v := range map[string]string{"packets": "", "drops": "0", "pairs": "", "alerts": "1", "enrichment_failures": "0", "decode_errors": "0", "evictions": "0"} {
		got, ok := statsSD.SD["launchtap@32473"][k]
		if !ok || v != "" && got != v {
			t.Errorf("SENSOR-STATS %s = %q (present %v), want %q; all: %v", k, got, ok, v, statsSD.SD)
		}
	}
	if got.MsgID != "BEACON" || got.Appname != "launchtap" || got.Hostname != "demo" {
		t.Fatalf("rsyslog got msgid %q app %q host %q", got.MsgID, got.Appname, got.Hostname)
	}
	var vars struct {
		SD map[string]map[string]string `json:"rfc5424-sd"`
	}
	if err := json.Unmarshal([]byte(got.Vars), &vars); err != nil {
		t.Fatalf("structured data: %v: %s", err, got.Vars)
	}
	sd := vars.SD["launchtap@32473"]
	job := want["enrichment"].(map[string]any)["jobs"].([]any)[0].(map[string]any)
	for k, v := range map[string]string{
		"src_ip":   want["src_ip"].(string),
		"src_mac":  want["src_mac"].(string),
		"dst_fqdn": want["dst_fqdn"].(string),
		"dst_port": "443",
		"proto":    "tcp",
		"host_os":  "macos",
		"hostname": want["hostname"].(string),
		"beats":    fmt.Sprint(want["beats"]),
	} {
		if sd[k] != v {
			t.Errorf("SD %s = %q, want %q (all: %v)", k, sd[k], v, sd)
		}
	}
	if !strings.Contains(got.Vars, job["label"].(string)) || !strings.Contains(got.Vars, "LaunchAgents") {
		t.Errorf("matched launchd job (%v) not in the structured data: %v", job["label"], sd)
	}
	if !strings.Contains(got.Msg, "cdn.example.net") {
		t.Errorf("MSG %q does not summarise the alert", got.Msg)
	}
}

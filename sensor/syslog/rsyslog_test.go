package syslog

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run a real rsyslogd (Debian packages rsyslog and
// rsyslog-gnutls) on loopback ports with a configuration written here. It
// parses what arrives with its strict RFC 5424 parser, splits the structured
// data with mmpstrucdata and writes one JSON object per message.

// requireRsyslog returns the rsyslogd path, skipping the test when it is
// absent, unless CI=true, where a missing receiver is a failure.
func requireRsyslog(t *testing.T, needTLS bool) string {
	t.Helper()
	path, err := exec.LookPath("rsyslogd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/rsyslogd"); serr == nil {
			path, err = "/usr/sbin/rsyslogd", nil
		}
	}
	missing := ""
	if err != nil {
		missing = "rsyslogd not found (apt-get install rsyslog rsyslog-gnutls)"
	} else if needTLS {
		if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
			if m, _ = filepath.Glob("/usr/lib/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
				missing = "rsyslog TLS driver lmnsd_gtls.so not found (apt-get install rsyslog-gnutls)"
			}
		}
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s, and CI=true requires the real-receiver tests", missing)
		}
		t.Skipf("skipping real-receiver test: %s", missing)
	}
	return path
}

type rsyslogd struct {
	t                 *testing.T
	bin, dir, conf    string
	out               string
	udp, tcp, tlsPort int
	sock              string
	pki               *testPKI
	cmd               *exec.Cmd
	exited            chan struct{}
}

const rsyslogTemplate = `
template(name="dump" type="list" option.jsonf="on") {
  property(outname="input" name="inputname" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="appname" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="vars" name="$!" format="jsonf")
}
`

func newRsyslogd(t *testing.T, withTLS bool) *rsyslogd {
	r := &rsyslogd{t: t, bin: requireRsyslog(t, withTLS), dir: t.TempDir()}
	r.out = filepath.Join(r.dir, "out.json")
	r.udp, r.tcp = freePort(t), freePort(t)
	r.sock = filepath.Join(r.dir, "log.sock")
	var b strings.Builder
	// Tabs stay tabs (LEEF's delimiter); rsyslog would write them as #011.
	fmt.Fprintf(&b, "global(workDirectory=%q maxMessageSize=\"64k\" parser.escapeControlCharacterTab=\"off\"", r.dir)
	if withTLS {
		r.pki = newTestPKI(t)
		r.tlsPort = freePort(t)
		fmt.Fprintf(&b, " defaultNetstreamDriverCAFile=%q defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q",
			r.pki.caFile, r.pki.serverCert, r.pki.serverKey)
	}
	b.WriteString(")\n")
	b.WriteString("module(load=\"imudp\")\nmodule(load=\"imtcp\" maxSessions=\"50\")\n")
	b.WriteString("module(load=\"imuxsock\" sysSock.use=\"off\")\nmodule(load=\"mmpstrucdata\")\n")
	b.WriteString(rsyslogTemplate)
	fmt.Fprintf(&b, `ruleset(name="r" parser=["rsyslog.rfc5424"]) {
  action(type="mmpstrucdata" sd_name.lowercase="off")
  action(type="omfile" file=%q template="dump")
}
input(type="imudp" name="udp" address="127.0.0.1" port="%d" ruleset="r")
input(type="imtcp" name="tcp" address="127.0.0.1" port="%d" ruleset="r")
input(type="imuxsock" socket=%q useSpecialParser="off" parseHostname="on" ruleset="r")
`, r.out, r.udp, r.tcp, r.sock)
	if withTLS {
		fmt.Fprintf(&b, `input(type="imtcp" name="tls" address="127.0.0.1" port="%d" ruleset="r" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
`, r.tlsPort)
	}
	r.conf = filepath.Join(r.dir, "rsyslog.conf")
	if err := os.WriteFile(r.conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(r.bin, "-N1", "-f", r.conf).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd rejects the test config: %v\n%s", err, out)
	}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *rsyslogd) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	r.cmd.Stdout, r.cmd.Stderr = os.Stderr, os.Stderr
	if !testing.Verbose() {
		r.cmd.Stdout, r.cmd.Stderr = nil, nil
	}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting rsyslogd: %v", err)
	}
	r.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) {
		c.Wait()
		close(done)
	}(r.cmd, r.exited)
	ports := []int{r.tcp}
	if r.tlsPort != 0 {
		ports = append(ports, r.tlsPort)
	}
	for _, p := range ports {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		waitFor(r.t, 15*time.Second, fmt.Sprintf("rsyslogd listening on %d", p), func() bool {
			select {
			case <-r.exited:
				r.t.Fatalf("rsyslogd exited at start (port %d taken?)", p)
			default:
			}
			d := &net.Dialer{Timeout: 200 * time.Millisecond}
			var c net.Conn
			var err error
			if p == r.tlsPort {
				// A full handshake, so rsyslog does not log a broken one.
				cert, cerr := tls.LoadX509KeyPair(r.pki.clientCert, r.pki.clientKey)
				if cerr != nil {
					r.t.Fatal(cerr)
				}
				c, err = tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: r.pki.pool, ServerName: "localhost",
					Certificates: []tls.Certificate{cert}})
			} else {
				c, err = d.Dial("tcp", addr)
			}
			if err != nil {
				return false
			}
			c.Close()
			return true
		})
	}
	waitFor(r.t, 5*time.Second, "rsyslogd socket", func() bool { _, err := os.Stat(r.sock); return err == nil })
}

// stop ends rsyslogd the way an operator does (SIGTERM) and waits for it.
func (r *rsyslogd) stop() { r.signal(syscall.SIGTERM) }

// signal ends rsyslogd with sig and waits for it.
func (r *rsyslogd) signal(sig syscall.Signal) {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.exited:
		return
	default:
	}
	r.cmd.Process.Signal(sig)
	select {
	case <-r.exited:
	case <-time.After(15 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
}

// received is one message as rsyslog parsed it.
type received struct {
	Input, Pri, Version, Timestamp, Hostname, Appname, Procid, Msgid, SD, Msg string
	Vars                                                                      string
	params                                                                    map[string]map[string]string
}

func (r *rsyslogd) messages() []received {
	r.t.Helper()
	b, err := os.ReadFile(r.out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	var out []received
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m received
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			r.t.Fatalf("rsyslog output line %q: %v", sc.Text(), err)
		}
		var vars struct {
			SD map[string]map[string]string `json:"rfc5424-sd"`
		}
		if m.Vars != "" {
			if err := json.Unmarshal([]byte(m.Vars), &vars); err != nil {
				r.t.Fatalf("rsyslog vars %q: %v", m.Vars, err)
			}
		}
		m.params = vars.SD
		out = append(out, m)
	}
	return out
}

func TestRsyslogAllFieldsArrive(t *testing.T) {
	r := newRsyslogd(t, true)
	a := groupAlert() // every field of trickyAlert, and the fleet group's
	e := newTestEmitter(t, Config{
		URLs: []string{
			fmt.Sprintf("udp://127.0.0.1:%d", r.udp),
			fmt.Sprintf("tcp://127.0.0.1:%d", r.tcp),
			fmt.Sprintf("tls://localhost:%d", r.tlsPort),
			"unix://" + r.sock,
			fmt.Sprintf("tcp://127.0.0.1:%d?format=cef", r.tcp),
			fmt.Sprintf("tcp://127.0.0.1:%d?format=leef", r.tcp),
			fmt.Sprintf("tcp://127.0.0.1:%d?format=json", r.tcp),
		},
		// rsyslog's TLS input demands a client certificate (x509/certvalid).
		CAFile: r.pki.caFile, CertFile: r.pki.clientCert, KeyFile: r.pki.clientKey, Version: "1.2.3",
	})
	start := time.Now()
	e.Alert(a)
	e.Stats(map[string]uint64{"packets": 123456, "drops": 7, "pairs": 42, "alerts": 1, "enrichment_failures": 2})
	e.Health("capture on eth1 ok", 6)
	if err := closeEmitter(t, e, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, c := range e.Counters().Destinations {
		if c.Delivered != 3 || c.Dropped != 0 {
			t.Errorf("%s: counters %+v", c.URL, c)
		}
	}
	waitFor(t, 10*time.Second, "21 messages in rsyslog's output", func() bool { return len(r.messages()) >= 21 })
	msgs := r.messages()
	if len(msgs) != 21 {
		t.Fatalf("rsyslog wrote %d messages, want 21", len(msgs))
	}
	want := wantParams(a)
	byKind := map[string]int{}
	for _, m := range msgs {
		if m.Version != "1" || m.Appname != "launchtap" || m.Procid != strconv.Itoa(os.Getpid()) {
			t.Errorf("%s header: %+v", m.Input, m)
		}
		ts, err := time.Parse(time.RFC3339Nano, m.Timestamp)
		if err != nil || ts.Before(start.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("%s timestamp %q: %v", m.Input, m.Timestamp, err)
		}
		seq := m.params["meta"]["sequenceId"]
		switch m.Msgid {
		case MsgIDStats:
			byKind["stats"]++
			if m.Pri != "166" || m.Hostname != "test-sensor" || seq != "2" {
				t.Errorf("stats header: %+v", m)
			}
			if strings.HasPrefix(m.Msg, "sensor stats:") {
				wantStats := map[string]string{"packets": "123456", "drops": "7", "pairs": "42", "alerts": "1", "enrichment_failures": "2"}
				if !reflect.DeepEqual(m.params[DefaultSDID], wantStats) {
					t.Errorf("%s stats SD %v", m.Input, m.params[DefaultSDID])
				}
			}
			continue
		case MsgIDHealth:
			byKind["health"]++
			if m.Pri != "166" || !strings.Contains(m.Msg, "capture on eth1 ok") || seq != "3" {
				t.Errorf("health: %+v", m)
			}
			continue
		case MsgIDBeacon:
		default:
			t.Errorf("unexpected MSGID %q", m.Msgid)
			continue
		}
		if m.Pri != "163" || m.Hostname != "span-sensor-1" || seq != "1" {
			t.Errorf("%s beacon header: pri %s host %s seq %s", m.Input, m.Pri, m.Hostname, seq)
		}
		switch {
		case strings.HasPrefix(m.Msg, "CEF:0|"):
			byKind["cef"]++
			hdr, ext := splitCEFHeader(t, m.Msg)
			got := cefUnescapeExt(t, ext)
			if hdr[6] != "8" || got["cs1"] != "com.example.agent=1|x" || got["cs2"] != a.Enrichment.Jobs[0].Path ||
				got["shost"] != a.Hostname || got["dhost"] != a.DstFQDN || got["cs4"] != want["reasons"] ||
				got["flexString1"] != a.GroupID || got["flexNumber1"] != "15" || got["flexString2"] != wantFleetHosts || got["flexNumber2"] != "1" {
				t.Errorf("CEF through rsyslog: %v", got)
			}
		case strings.HasPrefix(m.Msg, "LEEF:2.0|"):
			byKind["leef"]++
			if !strings.Contains(m.Msg, "\tlaunchd_path="+a.Enrichment.Jobs[0].Path+"\t") ||
				!strings.Contains(m.Msg, "\tdst_fqdn="+a.DstFQDN+"\t") ||
				!strings.Contains(m.Msg, "\tgroup_id="+a.GroupID+"\thost_count=15\tupdate=true\thosts="+wantFleetHosts+"\t") {
				t.Errorf("LEEF through rsyslog: %q", m.Msg)
			}
		case strings.HasPrefix(m.Msg, "{"):
			byKind["json"]++
			var got map[string]any
			err := json.Unmarshal([]byte(m.Msg), &got)
			hosts, _ := got["hosts"].([]any)
			if err != nil {
				t.Errorf("JSON through rsyslog: %v: %q", err, m.Msg)
			} else if got["dst_fqdn"] != a.DstFQDN || got["hostname"] != a.Hostname || got["id"] != a.ID ||
				got["group_id"] != a.GroupID || got["host_count"] != 15.0 || got["update"] != true || len(hosts) != len(a.Hosts) {
				t.Errorf("JSON through rsyslog: %v", got)
			}
		default:
			byKind["rfc5424-"+m.Input]++
			if !reflect.DeepEqual(m.params[DefaultSDID], want) {
				for k, v := range want {
					if m.params[DefaultSDID][k] != v {
						t.Errorf("%s: %s = %q, want %q", m.Input, k, m.params[DefaultSDID][k], v)
					}
				}
				t.Errorf("%s: %d params, want %d", m.Input, len(m.params[DefaultSDID]), len(want))
			}
			// rsyslog keeps the BOM that marks the UTF-8 MSG.
			if m.Msg != bom+Summary(a) {
				t.Errorf("%s: MSG %q, want BOM + %q", m.Input, m.Msg, Summary(a))
			}
		}
	}
	wantKinds := map[string]int{"stats": 7, "health": 7, "cef": 1, "leef": 1, "json": 1,
		"rfc5424-udp": 1, "rfc5424-tcp": 1, "rfc5424-tls": 1, "rfc5424-imuxsock": 1}
	if !reflect.DeepEqual(byKind, wantKinds) {
		t.Errorf("messages by kind %v, want %v", byKind, wantKinds)
	}
}

// TestRsyslogOutage stops the receiver, keeps emitting (and restarts the
// sensor process in the middle of the outage), starts the receiver again on
// the same port and checks that every alert arrived, in order.
func TestRsyslogOutage(t *testing.T) {
	for _, tc := range []struct {
		scheme string
		sig    syscall.Signal
	}{{"tcp", syscall.SIGTERM}, {"tls", syscall.SIGTERM}, {"udp", syscall.SIGTERM}, {"tcp", syscall.SIGKILL}} {
		scheme := tc.scheme
		t.Run(scheme+"-"+strings.ToLower(strings.ReplaceAll(tc.sig.String(), " ", "")), func(t *testing.T) {
			r := newRsyslogd(t, scheme == "tls")
			port := map[string]int{"tcp": r.tcp, "tls": r.tlsPort, "udp": r.udp}[scheme]
			cfg := Config{URLs: []string{fmt.Sprintf("%s://localhost:%d", scheme, port)}, Spool: t.TempDir(), SpoolSync: SyncAlways}
			if r.pki != nil {
				cfg.CAFile, cfg.CertFile, cfg.KeyFile = r.pki.caFile, r.pki.clientCert, r.pki.clientKey
			}
			const before, during1, during2, after = 50, 50, 50, 50
			total := before + during1 + during2 + after
			n := 0
			emit := func(e *Emitter, k int) {
				for i := 0; i < k; i++ {
					n++
					e.Alert(numberedAlert(n))
					time.Sleep(5 * time.Millisecond)
				}
			}
			e := newTestEmitter(t, cfg)
			quiet := before
			if tc.sig == syscall.SIGKILL {
				quiet = before - 10
			}
			emit(e, quiet)
			waitFor(t, 20*time.Second, "the first alerts at rsyslog", func() bool { return len(r.messages()) >= quiet })
			if tc.sig == syscall.SIGKILL {
				// Stopped, so its kernel acknowledges data the process never
				// reads, then killed: those messages are lost at the receiver
				// and must come back through the resend window.
				r.cmd.Process.Signal(syscall.SIGSTOP)
				emit(e, before-quiet)
				time.Sleep(200 * time.Millisecond)
			}
			r.signal(tc.sig)
			emit(e, during1)
			c1 := e.Counters().Destinations[0]
			// The sensor restarts while the receiver is still down.
			if err := closeEmitter(t, e, 500*time.Millisecond); err != nil {
				t.Fatalf("close during outage: %v", err)
			}
			e = newTestEmitter(t, cfg)
			restartDepth := e.Counters().Destinations[0].Depth
			emit(e, during2)
			c2 := e.Counters().Destinations[0]

			r.start()
			emit(e, after)
			if err := closeEmitter(t, e, 60*time.Second); err != nil {
				t.Fatal(err)
			}
			c3 := e.Counters().Destinations[0]
			end := time.Now().Add(20 * time.Second)
			for time.Now().Before(end) {
				seen := map[string]bool{}
				for _, m := range r.messages() {
					seen[m.params[DefaultSDID]["id"]] = true
				}
				if len(seen) >= total {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			msgs := r.messages()
			var order []int
			for _, m := range msgs {
				id := m.params[DefaultSDID]["id"]
				k, err := strconv.Atoi(strings.TrimPrefix(id, "alert-"))
				if err != nil {
					t.Fatalf("unexpected message %+v", m)
				}
				order = append(order, k)
			}
			dups := checkAllInOrder(t, order, total)
			t.Logf("%s outage (%v): %d alerts emitted (%d before, %d during with a sensor restart after %d, %d after); rsyslog got %d messages, %d distinct, %d duplicates",
				scheme, tc.sig, total, before, during1+during2, during1, after, len(msgs), len(msgs)-dups, dups)
			t.Logf("first process at restart: %+v", c1)
			t.Logf("second process: depth after restart %d; during outage %+v; at close %+v", restartDepth, c2, c3)
			if restartDepth < during1 {
				t.Errorf("restart found %d spooled, want >= %d", restartDepth, during1)
			}
			if scheme != "udp" && tc.sig == syscall.SIGTERM && (dups != 0 || c1.Delivered != before) {
				// A clean close (FIN) confirms what the receiver acknowledged.
				t.Errorf("clean receiver stop: %d duplicates, %d confirmed before it (want 0, %d)", dups, c1.Delivered, before)
			}
			if tc.sig == syscall.SIGKILL && c1.Delivered > uint64(quiet) {
				t.Errorf("killed receiver: %d counted delivered, but it never read more than %d", c1.Delivered, quiet)
			}
			if c3.Depth != 0 || c3.Dropped != 0 || c1.Dropped != 0 {
				t.Errorf("depth %d dropped %d/%d", c3.Depth, c1.Dropped, c3.Dropped)
			}
		})
	}
}

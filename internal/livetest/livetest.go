// Package livetest builds throw-away networks for tests of live capture: a
// network namespace joined to the host by a veth pair, and tcpreplay to play a
// capture file into it. Tests skip without root, ip or tcpreplay, except in
// CI (CI=true), where they fail instead: CI runs as root with the tools.
package livetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Require skips (or, in CI, fails) t unless the process is root and the
// commands ("ip" always, plus tools such as "tcpreplay" or "netsniff-ng")
// are installed.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	miss := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must run this test: "+format, args...)
		}
		t.Skipf(format, args...)
	}
	if os.Geteuid() != 0 {
		miss("needs root for network namespaces and AF_PACKET")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			miss("needs %s (Debian packages iproute2, tcpreplay, netsniff-ng)", tool)
		}
	}
}

// Veth is a veth pair: Host in the test's network namespace, Peer in the fresh
// namespace NS. Packets sent out of Peer arrive on Host.
type Veth struct {
	NS, Host, Peer string
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("livetest: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NewVeth creates the namespace and the pair with random names, both ends up,
// IPv6 off and no addresses, so that nothing but what a test sends crosses
// it. t.Cleanup removes them, also when the test fails.
func NewVeth(t testing.TB) *Veth {
	t.Helper()
	Require(t)
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(b[:])
	v := &Veth{NS: "launchtap-" + id, Host: "lth" + id, Peer: "ltp" + id}
	if err := run("ip", "netns", "add", v.NS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run("ip", "netns", "del", v.NS) })
	if err := run("ip", "link", "add", v.Host, "type", "veth", "peer", "name", v.Peer, "netns", v.NS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run("ip", "link", "del", v.Host) })
	steps := [][]string{
		{"sysctl", "-q", "-w", "net.ipv6.conf." + v.Host + ".disable_ipv6=1"},
		{"ip", "netns", "exec", v.NS, "sysctl", "-q", "-w", "net.ipv6.conf." + v.Peer + ".disable_ipv6=1"},
		{"ip", "link", "set", v.Host, "up"},
		{"ip", "-n", v.NS, "link", "set", v.Peer, "up"},
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// Replay plays file out of Peer with tcpreplay (extra arguments such as
// "--pps=2000" or "--topspeed" go before the file) and returns when it is done.
func (v *Veth) Replay(ctx context.Context, file string, args ...string) (string, error) {
	argv := append([]string{"netns", "exec", v.NS, "tcpreplay", "-i", v.Peer}, args...)
	argv = append(argv, file)
	out, err := exec.CommandContext(ctx, "ip", argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("livetest: tcpreplay %s: %w: %s", file, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// ReplayTXRing plays file out of Peer with netsniff-ng (Debian package
// netsniff-ng) as fast as it can. It transmits from a PACKET_TX_RING, so the
// frames arrive as skbs with paged data and only the first bytes linear, as
// many NIC drivers deliver them: tcpreplay's frames are all linear.
func (v *Veth) ReplayTXRing(ctx context.Context, file string) (string, error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", v.NS,
		"netsniff-ng", "--in", file, "--mmap", "--out", v.Peer, "--silent", "--ring-size", "16MiB", "--kernel-pull", "100").CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("livetest: netsniff-ng %s: %w: %s", file, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// WritePcap writes Ethernet frames to a pcap file, one millisecond apart.
func WritePcap(path string, frames [][]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("livetest: %w", err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return fmt.Errorf("livetest: writing %s: %w", path, err)
	}
	ts := time.Unix(1_700_000_000, 0)
	for i, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(fr), Length: len(fr)}
		if err := w.WritePacket(ci, fr); err != nil {
			f.Close()
			return fmt.Errorf("livetest: writing %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("livetest: closing %s: %w", path, err)
	}
	return nil
}

package pipeline

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/launchtap/launchtap/sensor/decode"
	"github.com/launchtap/launchtap/sensor/netset"
)

var internal = netset.MustParse(netset.DefaultInternal)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func dhcp(yiaddr, ciaddr string, opt50 string) []byte {
	b := make([]byte, 240)
	copy(b[16:20], addr(yiaddr).AsSlice())
	copy(b[12:16], addr(ciaddr).AsSlice())
	binary.BigEndian.PutUint32(b[236:], 0x63825363)
	b = append(b, 53, 1, 3) // DHCPREQUEST
	if opt50 != "" {
		b = append(b, 50, 4)
		b = append(b, addr(opt50).AsSlice()...)
	}
	return append(b, 255)
}

func TestOwnerOf(t *testing.T) {
	tests := []struct {
		name         string
		src, dst     string
		sport, dport uint16
		proto        uint8
		payload      []byte
		want         string
	}{
		{"egress", "10.20.1.15", "203.0.113.10", 50000, 443, decode.ProtoTCP, nil, "10.20.1.15"},
		{"ingress reply", "203.0.113.10", "10.20.1.15", 443, 50000, decode.ProtoTCP, nil, "10.20.1.15"},
		{"internal dns reply goes to the client", "10.20.0.53", "10.20.1.15", 53, 53000, decode.ProtoUDP, nil, "10.20.1.15"},
		{"internal dns query from the client", "10.20.1.15", "10.20.0.53", 53000, 53, decode.ProtoUDP, nil, "10.20.1.15"},
		{"internal same ports: smaller address", "10.0.0.9", "10.0.0.2", 123, 123, decode.ProtoUDP, nil, "10.0.0.2"},
		{"dhcp ack by yiaddr", "10.20.0.1", "255.255.255.255", 67, 68, decode.ProtoUDP, dhcp("10.20.1.15", "0.0.0.0", ""), "10.20.1.15"},
		{"dhcp request by option 50", "0.0.0.0", "255.255.255.255", 68, 67, decode.ProtoUDP, dhcp("0.0.0.0", "0.0.0.0", "10.20.1.15"), "10.20.1.15"},
		{"dhcp renewal by ciaddr", "10.20.1.15", "10.20.0.1", 68, 67, decode.ProtoUDP, dhcp("0.0.0.0", "10.20.1.15", ""), "10.20.1.15"},
		{"dhcp discover: source", "0.0.0.0", "255.255.255.255", 68, 67, decode.ProtoUDP, dhcp("0.0.0.0", "0.0.0.0", ""), "0.0.0.0"},
		{"transit: source", "198.51.100.1", "203.0.113.10", 1234, 80, decode.ProtoTCP, nil, "198.51.100.1"},
		{"ipv6 ula egress", "fd00::15", "2001:db8::1", 50000, 443, decode.ProtoTCP, nil, "fd00::15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := decode.Packet{Src: addr(tt.src), Dst: addr(tt.dst), SrcPort: tt.sport, DstPort: tt.dport, Proto: tt.proto, Payload: tt.payload}
			if got := ownerOf(&p, internal); got.String() != tt.want {
				t.Errorf("ownerOf = %s, want %s", got, tt.want)
			}
		})
	}
}

// Both directions of every exchange land on the same worker.
func TestShardSymmetric(t *testing.T) {
	for i := 0; i < 1000; i++ {
		in := addr(fmt.Sprintf("10.%d.%d.%d", i%7, i%251, i%253))
		ex := addr(fmt.Sprintf("203.0.%d.%d", i%113, i%97))
		out := decode.Packet{Src: in, Dst: ex, SrcPort: uint16(40000 + i), DstPort: 443, Proto: decode.ProtoTCP}
		back := decode.Packet{Src: ex, Dst: in, SrcPort: 443, DstPort: uint16(40000 + i), Proto: decode.ProtoTCP}
		for _, n := range []int{2, 3, 8} {
			if a, b := shardOf(&out, internal, n), shardOf(&back, internal, n); a != b {
				t.Fatalf("%s↔%s: workers %d and %d of %d", in, ex, a, b, n)
			}
		}
	}
}

func TestKeptPayload(t *testing.T) {
	big := make([]byte, 9000)
	tests := []struct {
		port uint16
		want int
	}{{53, 9000}, {67, 9000}, {5353, 9000}, {80, 4096}, {443, 0}, {22, 0}}
	for _, tt := range tests {
		p := decode.Packet{SrcPort: 50000, DstPort: tt.port, Payload: big}
		if got := keptPayload(&p); got != tt.want {
			t.Errorf("port %d: kept %d, want %d", tt.port, got, tt.want)
		}
	}
}

func TestAddCounters(t *testing.T) {
	type s struct {
		A, B uint64
		N    int
	}
	x, y := s{1, 2, 3}, s{10, 20, 30}
	addCounters(&x, &y)
	if x != (s{11, 22, 33}) {
		t.Fatalf("addCounters = %+v", x)
	}
}

func TestNewValidates(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OS = "beos"
	if _, err := New(cfg); err == nil {
		t.Fatal("New accepted --os beos")
	}
}

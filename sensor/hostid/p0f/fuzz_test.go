package p0f

import (
	"os"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/sensor/decode"
)

func FuzzParse(f *testing.F) {
	f.Add(DefaultText())
	if b, err := os.ReadFile(systemDB); err == nil {
		f.Add(string(b))
	}
	f.Add("[tcp:request]\nlabel = s:unix:A:1\nsig = 6:64+3-:2:*:mtu*4,*:?9,eol+3:df,flow,bad:+\n")
	f.Add("[tcp:request]\nlabel = s:!:T:1\nsys = @unix\nsig = *:64:0:*:%512,*:::*\n")
	f.Fuzz(func(t *testing.T, in string) {
		db, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		// Whatever parsed must be usable for matching.
		p := decode.Packet{Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn, TTL: 64, Window: 65535,
			TCPOptions: []byte{2, 4, 5, 0xb4, 1, 3, 3, 6}}
		var s SYN
		FromPacket(&p, &s)
		db.Match(&s)
	})
}

func FuzzOptions(f *testing.F) {
	f.Add([]byte{2, 4, 5, 0xb4, 1, 3, 3, 6, 1, 1, 8, 10, 0x78, 0x03, 0x4f, 0xb5, 0, 0, 0, 0, 4, 2, 0, 0})
	f.Add([]byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7})
	f.Add([]byte{5, 10, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0xfe, 0xff})
	db, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, opts []byte) {
		p := decode.Packet{Proto: decode.ProtoTCP, TCPFlags: decode.TCPSyn, TTL: 64, Window: 65535, TCPOptions: opts}
		var s SYN
		FromPacket(&p, &s)
		db.Match(&s)
		_ = s.Raw()
	})
}

package names

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// rfc9001ClientInitial is the protected client Initial of RFC 9001
// Appendix A.2: DCID 8394c8f03e515708, packet number 2, a ClientHello for
// example.com padded to 1200 bytes.
var rfc9001ClientInitial = unhex(`
c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
e221af44860018ab0856972e194cd934`)

func TestQUICRFC9001(t *testing.T) {
	if len(rfc9001ClientInitial) != 1200 {
		t.Fatalf("vector of %d bytes", len(rfc9001ClientInitial))
	}
	orig := bytes.Clone(rfc9001ClientInitial)
	var q QUIC
	got, err := q.Datagram(rfc9001ClientInitial)
	if err != nil || string(got) != "example.com" {
		t.Fatalf("Datagram = %q, %v", got, err)
	}
	if !bytes.Equal(orig, rfc9001ClientInitial) {
		t.Fatal("the datagram was modified")
	}
	// RFC 9001 A.1 keys.
	if k := hex.EncodeToString(q.iv[:]); k != "fa044b2f42a3fd3b46fb255c" {
		t.Fatalf("client iv %s", k)
	}
	// The same connection again, after Reset: the keys are kept, nothing allocates.
	if n := testing.AllocsPerRun(20, func() {
		q.Reset()
		if _, err := q.Datagram(rfc9001ClientInitial); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per datagram of a known connection", n)
	}
}

// TestQUICv2Keys checks the QUIC v2 client keys against RFC 9369 Appendix A.1.
func TestQUICv2Keys(t *testing.T) {
	var q QUIC
	if err := q.keys(QUICv2, unhex("8394c8f03e515708")); err != nil {
		t.Fatal(err)
	}
	if k := hex.EncodeToString(q.iv[:]); k != "91f73e2351d8fa91660e909f" {
		t.Fatalf("v2 client iv %s", k)
	}
}

// protect builds a client Initial of version v carrying frames, padded to
// 1200 bytes, as a client would send it (the inverse of QUIC.packet).
func protect(t testing.TB, v uint32, dcid []byte, pn uint32, frames []byte) []byte {
	t.Helper()
	var q QUIC
	if err := q.keys(v, dcid); err != nil {
		t.Fatal(err)
	}
	first := byte(0xc3) // long header, Initial (v1), 4-byte packet number
	if v == QUICv2 {
		first = 0xd3
	}
	hdr := []byte{first}
	hdr = binary.BigEndian.AppendUint32(hdr, v)
	hdr = append(hdr, byte(len(dcid)))
	hdr = append(hdr, dcid...)
	hdr = append(hdr, 0, 0) // no SCID, no token
	payLen := 1200 - len(hdr) - 2 - 4 - 16
	plain := make([]byte, payLen)
	copy(plain, frames)
	hdr = binary.BigEndian.AppendUint16(hdr, 0x4000|uint16(4+payLen+16))
	pnOff := len(hdr)
	hdr = binary.BigEndian.AppendUint32(hdr, pn)
	nonce := q.iv
	for i := range 4 {
		nonce[8+i] ^= hdr[pnOff+i]
	}
	pkt := q.aead.Seal(bytes.Clone(hdr), nonce[:], plain, hdr)
	var mask [16]byte
	q.hp.Encrypt(mask[:], pkt[pnOff+4:pnOff+20])
	pkt[0] ^= mask[0] & 0x0f
	for i := range 4 {
		pkt[pnOff+i] ^= mask[1+i]
	}
	return pkt
}

func cryptoFrame(off int, data []byte) []byte {
	b := []byte{frameCrypto, 0x80}
	b = binary.BigEndian.AppendUint32(b[:1], 0x80000000|uint32(off))
	b = binary.BigEndian.AppendUint16(b, 0x4000|uint16(len(data)))
	return append(b, data...)
}

// TestQUICTwoPackets sends a large ClientHello as browsers do: split over
// two Initial packets, the CRYPTO frames out of order, for v1 and v2.
func TestQUICTwoPackets(t *testing.T) {
	hello := goHello(t, "beacon.cdn.example")[5:] // the handshake message, without the TLS record header
	sniAt := bytes.Index(hello, []byte("beacon.cdn.example"))
	dcid := unhex("0011223344556677")
	for _, v := range []uint32{QUICv1, QUICv2} {
		half := len(hello) / 2
		// Packet 1: the second half first, then a piece of the first half
		// that ends before the name: nothing to read yet.
		cut := min(sniAt-10, half)
		p1 := append(cryptoFrame(half, hello[half:min(len(hello), half+900)]), cryptoFrame(0, hello[:cut])...)
		p2 := append([]byte{framePing, framePadding}, cryptoFrame(cut, hello[cut:half])...)
		if half+900 < len(hello) {
			p2 = append(p2, cryptoFrame(half+900, hello[half+900:])...)
		}
		var q QUIC
		q.Reset()
		if got, err := q.Datagram(protect(t, v, dcid, 0, p1)); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("v%x first packet: %q, %v", v, got, err)
		}
		got, err := q.Datagram(protect(t, v, dcid, 1, p2))
		if err != nil || string(got) != "beacon.cdn.example" {
			t.Fatalf("v%x second packet: %q, %v", v, got, err)
		}
	}
}

func TestQUICRejects(t *testing.T) {
	v1 := bytes.Clone(rfc9001ClientInitial)
	for _, tc := range []struct {
		name string
		b    []byte
		err  error
	}{
		{"short header", []byte{0x40, 1, 2, 3, 4, 5, 6, 7, 8}, ErrNotMine},
		{"version negotiation", []byte{0xc0, 0, 0, 0, 0, 0, 0}, ErrNotMine},
		{"unknown version", corrupt(v1, func(b []byte) { b[4] = 9 }), ErrNotMine},
		{"handshake packet", corrupt(v1, func(b []byte) { b[0] = 0xe0 }), ErrNotMine},
		{"tampered", corrupt(v1, func(b []byte) { b[500] ^= 1 }), ErrMalformed},
		{"dcid too long", corrupt(v1, func(b []byte) { b[5] = 21 }), ErrMalformed},
		{"length past the datagram", v1[:1000], ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q QUIC
			if got, err := q.Datagram(tc.b); !errors.Is(err, tc.err) {
				t.Fatalf("Datagram = %q, %v; want %v", got, err, tc.err)
			}
		})
	}
}

func FuzzQUIC(f *testing.F) {
	f.Add(rfc9001ClientInitial)
	f.Add([]byte{0xc0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x20})
	var q QUIC
	f.Fuzz(func(t *testing.T, b []byte) {
		q.Reset()
		name, err := q.Datagram(b)
		if err == nil && !validHost(name) {
			t.Fatalf("invalid name %q", name)
		}
	})
}

// FuzzQUICFrames fuzzes what lies behind the packet protection, which
// FuzzQUIC can hardly reach: the fuzzer's bytes are the frames of a client
// Initial that is protected as a client would, then opened.
func FuzzQUICFrames(f *testing.F) {
	hello := goHello(f, "seed.example")[5:]
	f.Add(cryptoFrame(0, hello[:900]))
	f.Add(append(cryptoFrame(600, hello[600:900]), cryptoFrame(0, hello[:600])...))
	f.Add([]byte{frameAck, 0, 0, 0, 0, framePing, frameCrypto, 0, 3, 1, 0, 0})
	dcid := unhex("0011223344556677")
	var q QUIC
	f.Fuzz(func(t *testing.T, frames []byte) {
		if len(frames) > 1100 {
			return
		}
		q.Reset()
		name, err := q.Datagram(protect(t, QUICv1, dcid, 0, frames))
		if err == nil && !validHost(name) {
			t.Fatalf("invalid name %q", name)
		}
	})
}

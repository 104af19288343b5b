package synth

import "encoding/binary"

// clientHello builds a TLS 1.3 ClientHello record of exactly n bytes, shaped
// like Safari's on macOS 14 (GREASE, x25519 key share, h2/http1.1 ALPN,
// supported_versions), naming sni, padded with the padding extension.
// rnd supplies the 96 random bytes (random, session id, key share). It
// returns nil when the hello does not fit in n bytes.
func clientHello(n int, sni string, rnd []byte) []byte {
	if len(rnd) < 96 {
		return nil
	}
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	ext := func(b []byte, typ int, body []byte) []byte {
		b = u16(b, typ)
		b = u16(b, len(body))
		return append(b, body...)
	}
	grease := 0x0a0a + 0x1010*int(rnd[0]%15)
	var e []byte
	e = ext(e, grease, nil)
	if sni != "" {
		name := []byte(sni)
		body := u16(nil, len(name)+3)
		body = append(body, 0)
		body = u16(body, len(name))
		e = ext(e, 0x0000, append(body, name...))
	}
	e = ext(e, 0x0017, nil)       // extended_master_secret
	e = ext(e, 0xff01, []byte{0}) // renegotiation_info
	groups := []int{grease, 0x001d, 0x0017, 0x0018, 0x0019}
	gb := u16(nil, 2*len(groups))
	for _, g := range groups {
		gb = u16(gb, g)
	}
	e = ext(e, 0x000a, gb)           // supported_groups
	e = ext(e, 0x000b, []byte{1, 0}) // ec_point_formats
	alpn := []byte{0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'}
	e = ext(e, 0x0010, alpn)
	e = ext(e, 0x0005, []byte{1, 0, 0, 0, 0}) // status_request
	sigs := []int{0x0403, 0x0804, 0x0401, 0x0503, 0x0203, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201}
	sb := u16(nil, 2*len(sigs))
	for _, s := range sigs {
		sb = u16(sb, s)
	}
	e = ext(e, 0x000d, sb)
	e = ext(e, 0x0012, nil) // signed_certificate_timestamp
	ks := u16(nil, 5+36)
	ks = u16(ks, grease)
	ks = append(ks, 0, 1, 0)
	ks = u16(ks, 0x001d)
	ks = u16(ks, 32)
	ks = append(ks, rnd[64:96]...)
	e = ext(e, 0x0033, ks)           // key_share
	e = ext(e, 0x002d, []byte{1, 1}) // psk_key_exchange_modes
	e = ext(e, 0x002b, []byte{10, byte(grease >> 8), byte(grease), 3, 4, 3, 3, 3, 2, 3, 1})
	e = ext(e, 0x001b, []byte{2, 0, 1}) // compress_certificate: zlib
	e = ext(e, grease+0x1010, []byte{0})

	suites := []int{grease, 0x1301, 0x1302, 0x1303, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8,
		0xc00a, 0xc009, 0xc014, 0xc013, 0x009d, 0x009c, 0x0035, 0x002f, 0xc008, 0xc012, 0x000a}
	var body []byte
	body = append(body, 3, 3)
	body = append(body, rnd[0:32]...)
	body = append(body, 32)
	body = append(body, rnd[32:64]...)
	body = u16(body, 2*len(suites))
	for _, s := range suites {
		body = u16(body, s)
	}
	body = append(body, 1, 0)
	// record(5) + handshake header(4) + body + extensions length(2) + e + padding ext(4+p) = n
	p := n - 5 - 4 - len(body) - 2 - len(e) - 4
	if p < 0 {
		return nil
	}
	e = ext(e, 0x0015, make([]byte, p))
	body = u16(body, len(e))
	body = append(body, e...)
	out := make([]byte, 0, n)
	out = append(out, 0x16, 3, 1)
	out = u16(out, 4+len(body))
	out = append(out, 1, byte(len(body)>>16), byte(len(body)>>8), byte(len(body)))
	return append(out, body...)
}

package synth

import "encoding/binary"

// helloFlavor is whose TLS stack shapes a ClientHello.
type helloFlavor uint8

const (
	helloSafari  helloFlavor = iota // macOS / iOS (Network.framework, Safari)
	helloChrome                     // Chrome / Edge on Windows
	helloFirefox                    // Firefox (NSS) on Linux
)

func (h *host) helloFlavor() helloFlavor {
	switch h.os {
	case osWindows:
		return helloChrome
	case osLinux:
		return helloFirefox
	}
	return helloSafari
}

// clientHello builds a TLS 1.3 ClientHello record of exactly n bytes in the
// shape of the flavor's stack (cipher suites, extension set and order,
// GREASE for Safari and Chrome, key shares), naming sni, padded with the
// padding extension. rnd supplies the random fields (at least 161 bytes).
// It returns nil when the hello does not fit in n bytes.
func clientHello(n int, sni string, rnd []byte, fl helloFlavor) []byte {
	if len(rnd) < 161 {
		return nil
	}
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	ext := func(b []byte, typ int, body []byte) []byte {
		b = u16(b, typ)
		b = u16(b, len(body))
		return append(b, body...)
	}
	list16 := func(vals []int, lenBytes int) []byte {
		var b []byte
		if lenBytes == 2 {
			b = u16(b, 2*len(vals))
		} else {
			b = append(b, byte(2*len(vals)))
		}
		for _, v := range vals {
			b = u16(b, v)
		}
		return b
	}
	grease := 0x0a0a + 0x1010*int(rnd[0]%15)
	greased := fl != helloFirefox
	withGrease := func(v []int) []int {
		if !greased {
			return v
		}
		return append([]int{grease}, v...)
	}
	sniExt := func(e []byte) []byte {
		if sni == "" {
			return e
		}
		name := []byte(sni)
		body := u16(nil, len(name)+3)
		body = append(body, 0)
		body = u16(body, len(name))
		return ext(e, 0x0000, append(body, name...))
	}
	keyShare := func(groups ...int) []byte {
		var shares []byte
		off := 64
		for _, g := range groups {
			shares = u16(shares, g)
			switch g {
			case 0x001d:
				shares = u16(shares, 32)
				shares = append(shares, rnd[off:off+32]...)
				off += 32
			case 0x0017: // P-256 uncompressed point
				shares = u16(shares, 65)
				shares = append(shares, 4)
				shares = append(shares, rnd[off:off+64]...)
				off += 64
			default: // GREASE
				shares = append(shares, 0, 1, 0)
			}
		}
		return append(u16(nil, len(shares)), shares...)
	}
	alpn := []byte{0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'}
	var suites []int
	var e []byte
	switch fl {
	case helloSafari:
		suites = withGrease([]int{0x1301, 0x1302, 0x1303, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8,
			0xc00a, 0xc009, 0xc014, 0xc013, 0x009d, 0x009c, 0x0035, 0x002f, 0xc008, 0xc012, 0x000a})
		e = ext(e, grease, nil)
		e = sniExt(e)
		e = ext(e, 0x0017, nil)       // extended_master_secret
		e = ext(e, 0xff01, []byte{0}) // renegotiation_info
		e = ext(e, 0x000a, list16(withGrease([]int{0x001d, 0x0017, 0x0018, 0x0019}), 2))
		e = ext(e, 0x000b, []byte{1, 0})
		e = ext(e, 0x0010, alpn)
		e = ext(e, 0x0005, []byte{1, 0, 0, 0, 0})
		e = ext(e, 0x000d, list16([]int{0x0403, 0x0804, 0x0401, 0x0503, 0x0203, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201}, 2))
		e = ext(e, 0x0012, nil)
		e = ext(e, 0x0033, keyShare(grease, 0x001d))
		e = ext(e, 0x002d, []byte{1, 1})
		e = ext(e, 0x002b, list16(withGrease([]int{0x0304, 0x0303, 0x0302, 0x0301}), 1))
		e = ext(e, 0x001b, []byte{2, 0, 1}) // compress_certificate: zlib
		e = ext(e, grease+0x1010, []byte{0})
	case helloChrome:
		suites = withGrease([]int{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
			0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035})
		e = ext(e, grease, nil)
		e = sniExt(e)
		e = ext(e, 0x0017, nil)
		e = ext(e, 0xff01, []byte{0})
		e = ext(e, 0x000a, list16(withGrease([]int{0x001d, 0x0017, 0x0018}), 2))
		e = ext(e, 0x000b, []byte{1, 0})
		e = ext(e, 0x0023, nil) // session_ticket
		e = ext(e, 0x0010, alpn)
		e = ext(e, 0x0005, []byte{1, 0, 0, 0, 0})
		e = ext(e, 0x000d, list16([]int{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}, 2))
		e = ext(e, 0x0012, nil)
		e = ext(e, 0x0033, keyShare(grease, 0x001d))
		e = ext(e, 0x002d, []byte{1, 1})
		e = ext(e, 0x002b, list16(withGrease([]int{0x0304, 0x0303}), 1))
		e = ext(e, 0x001b, []byte{2, 0, 2})           // compress_certificate: brotli
		e = ext(e, 0x4469, []byte{0, 3, 2, 'h', '2'}) // application_settings (ALPS)
		e = ext(e, grease+0x1010, []byte{0})
	case helloFirefox:
		suites = []int{0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030,
			0xc00a, 0xc009, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
		e = sniExt(e)
		e = ext(e, 0x0017, nil)
		e = ext(e, 0xff01, []byte{0})
		e = ext(e, 0x000a, list16([]int{0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101}, 2))
		e = ext(e, 0x000b, []byte{1, 0})
		e = ext(e, 0x0023, nil)
		e = ext(e, 0x0010, alpn)
		e = ext(e, 0x0005, []byte{1, 0, 0, 0, 0})
		e = ext(e, 0x0022, list16([]int{0x0403, 0x0503, 0x0603, 0x0203}, 2)) // delegated_credentials
		e = ext(e, 0x0033, keyShare(0x001d, 0x0017))
		e = ext(e, 0x002b, list16([]int{0x0304, 0x0303}, 1))
		e = ext(e, 0x000d, list16([]int{0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201}, 2))
		e = ext(e, 0x001c, []byte{0x40, 0x01}) // record_size_limit
	}
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

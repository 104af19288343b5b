package dhcp

import (
	"bytes"
	"strconv"
	"strings"
)

// Guess is an OS inferred from a DHCP client's request.
type Guess struct {
	OS     string // macos, ios, darwin (macOS or iOS), windows, linux, or "" when unknown
	Reason string // for the analyst, e.g. "option 55 ends 95,44,46 (macOS)"
}

// Apple's client (bootp IPConfiguration) asks for these, in this order; older
// releases omit 108 and/or 114. macOS appends 95,44,46; iOS/iPadOS stop at 252.
var (
	applePrefix    = []byte{1, 121, 3, 6, 15}
	appleOldPrefix = []byte{1, 3, 6, 15, 119}
	macTail        = []byte{95, 44, 46}
	macOldTail     = []byte{95, 252, 44, 46}
)

// ClassifyV4 guesses the client OS from option 55 and option 60.
func ClassifyV4(m *V4) Guess {
	vc := m.VendorClass
	switch {
	case bytes.HasPrefix(vc, []byte("MSFT")):
		return Guess{"windows", "vendor class " + strconv.Quote(string(vc))}
	case bytes.HasPrefix(vc, []byte("android-dhcp")):
		return Guess{"linux", "vendor class " + strconv.Quote(string(vc)) + " (Android)"}
	case bytes.HasPrefix(vc, []byte("dhcpcd-")) && bytes.Contains(vc, []byte(":Linux-")):
		return Guess{"linux", "vendor class " + strconv.Quote(string(vc))}
	case bytes.HasPrefix(vc, []byte("udhcp")):
		return Guess{"linux", "vendor class " + strconv.Quote(string(vc)) + " (BusyBox)"}
	}
	return ClassifyPRL(m.PRL)
}

// ClassifyPRL guesses the client OS from a DHCPv4 parameter request list.
func ClassifyPRL(prl []byte) Guess {
	if len(prl) == 0 {
		return Guess{}
	}
	list := PRLString(prl)
	apple := bytes.HasPrefix(prl, applePrefix) || bytes.HasPrefix(prl, appleOldPrefix)
	has := func(c byte) bool { return bytes.IndexByte(prl, c) >= 0 }
	switch {
	case apple && (bytes.HasSuffix(prl, macTail) || bytes.HasSuffix(prl, macOldTail) ||
		bytes.HasSuffix(prl, append(macOldTail[:len(macOldTail):len(macOldTail)], 47))):
		return Guess{"macos", "option 55 " + list + " (Apple client, 95,44,46 tail: macOS)"}
	case apple && prl[len(prl)-1] == 252 && !has(44) && !has(46):
		return Guess{"ios", "option 55 " + list + " (Apple client ending at 252: iOS/iPadOS)"}
	case apple:
		return Guess{"darwin", "option 55 " + list + " (Apple-like client)"}
	case has(249) && has(43) && has(31) && has(33):
		return Guess{"windows", "option 55 " + list + " (Windows client: 31,33,43,249)"}
	case bytes.HasPrefix(prl, []byte{1, 28, 2}):
		return Guess{"linux", "option 55 " + list + " (ISC dhclient)"}
	case has(28) && has(26) && !has(249) && !has(43):
		return Guess{"linux", "option 55 " + list + " (Linux-style client)"}
	}
	return Guess{}
}

// ClassifyV6 guesses the client OS from a DHCPv6 message's vendor class.
// (Apple's DHCPv6 client sends no vendor class; Windows sends "MSFT 5.0"
// under enterprise 311.)
func ClassifyV6(m *V6) Guess {
	if m.HasVendor && (m.VendorEnt == 311 || bytes.HasPrefix(m.VendorClass, []byte("MSFT"))) {
		return Guess{"windows", "DHCPv6 vendor class enterprise " + strconv.FormatUint(uint64(m.VendorEnt), 10) + " " + strconv.Quote(string(m.VendorClass))}
	}
	if m.HasVendor && bytes.HasPrefix(m.VendorClass, []byte("dhcpcd-")) {
		return Guess{"linux", "DHCPv6 vendor class " + strconv.Quote(string(m.VendorClass))}
	}
	return Guess{}
}

// PRLString renders a parameter request list as "1,121,3,...".
func PRLString(prl []byte) string {
	var b strings.Builder
	for i, c := range prl {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(c)))
	}
	return b.String()
}

// OROString renders a DHCPv6 option request list as "23,24,...".
func OROString(oro []byte) string {
	var b strings.Builder
	for i := 0; i+1 < len(oro); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(oro[i])<<8 | int(oro[i+1])))
	}
	return b.String()
}

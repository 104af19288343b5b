package decode_test

import (
	"encoding/hex"
	"fmt"

	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
)

func ExampleDecoder() {
	// An Ethernet frame with a TCP SYN from 192.168.1.10:51000 to 93.184.216.34:443.
	data, _ := hex.DecodeString("02000000000b02000000000a0800" +
		"450000281234400040060000c0a8010a5db8d822" +
		"c73801bb000003e8000000005002ffff00000000")
	f := capture.Frame{Data: data, WireLen: uint32(len(data)), LinkType: capture.LinkEthernet}

	var d decode.Decoder // one per worker goroutine
	var p decode.Packet  // reused for every frame
	switch k := d.Decode(&f, &p); k {
	case decode.OK:
		fmt.Println(p.Src, p.SrcPort, "->", p.Dst, p.DstPort, "syn:", p.TCPFlags&decode.TCPSyn != 0)
	case decode.ErrFragment, decode.ErrOtherTransport:
		fmt.Println("IP only:", p.Src, "->", p.Dst, "proto", p.Proto)
	default:
		fmt.Println("not decoded:", k)
	}
	fmt.Println(d.Counts()[decode.OK], "ok")
	// Output:
	// 192.168.1.10 51000 -> 93.184.216.34 443 syn: true
	// 1 ok
}

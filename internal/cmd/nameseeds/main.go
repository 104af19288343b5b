// Command nameseeds copies the bytes the name parsers read from real
// captures into their fuzz seed corpora: first TCP payloads that start a
// TLS record or an HTTP request, UDP datagrams that start with a QUIC long
// header, and ICMPv6 neighbor discovery messages.
//
//	go run ./internal/cmd/nameseeds -max 6 /work/shared/captures/real /work/shared/captures/c2
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strconv"

	"github.com/launchtap/launchtap/sensor/capture"
	"github.com/launchtap/launchtap/sensor/decode"
)

func main() {
	max := flag.Int("max", 6, "seeds kept per fuzz target")
	names := flag.String("names", "sensor/names/testdata/fuzz", "the names package's fuzz corpus directory")
	ndp := flag.String("ndp", "sensor/ndp/testdata/fuzz", "the ndp package's fuzz corpus directory")
	flag.Parse()
	src, err := capture.Options{}.Open(flag.Args()...)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	kept := map[string]int{}
	keep := func(dir, target string, b []byte) {
		d := filepath.Join(dir, target)
		if kept[d] >= *max {
			return
		}
		sum := sha256.Sum256(b)
		name := filepath.Join(d, "real-"+hex.EncodeToString(sum[:8]))
		if _, err := os.Stat(name); err == nil {
			return
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			log.Fatal(err)
		}
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			log.Fatal(err)
		}
		kept[d]++
	}
	var (
		dec decode.Decoder
		f   capture.Frame
		p   decode.Packet
	)
	err = src.Guard(func() error {
		for {
			if err := src.Next(&f); err != nil {
				return err
			}
			k := dec.Decode(&f, &p)
			b := p.Payload
			switch {
			case k == decode.ErrOtherTransport && p.Proto == decode.ProtoICMPv6 && len(b) > 0:
				switch b[0] {
				case 134:
					keep(*ndp, "FuzzRouterAdvert", b)
				case 135, 136:
					keep(*ndp, "FuzzNeighbor", b)
				}
			case k != decode.OK || len(b) == 0:
			case p.Proto == decode.ProtoTCP && len(b) > 5 && b[0] == 22 && b[1] == 3 && b[5] == 1:
				keep(*names, "FuzzHelloSNI", b)
			case p.Proto == decode.ProtoTCP && len(b) > 8 && (string(b[:4]) == "GET " || string(b[:5]) == "POST " || string(b[:8]) == "CONNECT "):
				keep(*names, "FuzzParseRequest", b)
			case p.Proto == decode.ProtoUDP && p.DstPort == 443 && b[0]&0xc0 == 0xc0:
				keep(*names, "FuzzQUIC", b)
			}
		}
	})
	if !errors.Is(err, io.EOF) {
		log.Fatal(err)
	}
	fmt.Println(kept)
}

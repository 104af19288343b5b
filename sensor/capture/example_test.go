package capture_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/launchtap/launchtap/sensor/capture"
)

// A replay loop as the CLI runs it: a truncated input is a warning, not a
// failure, and a file that is not a capture fails Open.
func ExampleOpen() {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil))) // the skipped README.txt warns here
	src, err := capture.Open("testdata/multi-section.pcapng", "testdata/truncated.pcap", "testdata/rotated")
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	defer src.Close()
	var f capture.Frame
	n := 0
	for err = src.Next(&f); err == nil; err = src.Next(&f) {
		n++
	}
	var te *capture.TruncatedError
	switch {
	case errors.As(err, &te):
		for _, w := range src.(*capture.Reader).Warnings() {
			fmt.Println("warning:", w)
		}
	case err != io.EOF:
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(n, "frames")

	_, err = capture.Open("testdata/not-a-capture.txt")
	fmt.Println(errors.Is(err, capture.ErrNotCapture), err)
	// Output:
	// warning: testdata/truncated.pcap: capture truncated in the record at byte offset 66: record data cut short: unexpected EOF
	// 14 frames
	// true capture: testdata/not-a-capture.txt: not a pcap or pcapng capture (starts 54 68 69 73)
}

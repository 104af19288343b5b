package obs

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the frame decoder: it must return
// records or an error wrapping ErrBad, never panic, and what it decodes
// must encode back to a frame that decodes to the same records.
func FuzzDecode(f *testing.F) {
	for _, rec := range samples() {
		f.Add(frameOf(f, rec))
	}
	f.Add(frameOf(f, samples()...))
	f.Add([]byte("LT\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		recs, err := Decode(frame)
		if err != nil {
			if !errors.Is(err, ErrBad) {
				t.Fatalf("error not wrapping ErrBad: %v", err)
			}
			return
		}
		if len(recs) == 0 {
			return
		}
		var w Writer
		for _, r := range recs {
			if err := w.Add(r); err != nil {
				t.Fatalf("decoded record does not encode: %v", err)
			}
		}
		again, err := Decode(bytes.Clone(w.Bytes()))
		if err != nil || !reflect.DeepEqual(again, recs) {
			t.Fatalf("re-encoded frame decodes to %v, %v; want %v", again, err, recs)
		}
	})
}

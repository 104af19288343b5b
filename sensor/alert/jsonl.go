package alert

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// JSONWriter writes alerts as JSON Lines: one object per line, flushed per
// alert so that a reader tailing the file sees each alert when it fires.
type JSONWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *json.Encoder
}

// NewJSONWriter writes to w.
func NewJSONWriter(w io.Writer) *JSONWriter {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSONWriter{w: bw, enc: enc}
}

// Alert writes a as one line.
func (j *JSONWriter) Alert(a *Alert) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.enc.Encode(a); err != nil {
		return fmt.Errorf("alert: writing JSON: %w", err)
	}
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("alert: writing JSON: %w", err)
	}
	return nil
}

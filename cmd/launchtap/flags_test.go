package main

import (
	"io"
	"testing"

	"github.com/spf13/pflag"
)

// testFlags parses args as the replay command's sensor and state flags
// (what `launchtap replay` would be given before its captures) and prepares
// them, for tests that build a sensor without running a command.
func testFlags(t *testing.T, args ...string) (*sensorFlags, *stateFlags) {
	t.Helper()
	a := &app{stdout: io.Discard, stderr: io.Discard}
	fs := pflag.NewFlagSet("replay", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := newSensorFlags(a, fs)
	sf := registerStateFlags(fs, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := o.prepare(io.Discard); err != nil {
		t.Fatal(err)
	}
	return o, sf
}

package syslog

import (
	"flag"
	"io"
	"reflect"
	"testing"
	"time"
)

func TestRegisterFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	err := fs.Parse([]string{
		"--syslog", "tcp://127.0.0.1:514", "--syslog", "udp://[::1]:514?format=cef",
		"--syslog-format", "leef", "--syslog-facility", "local7", "--syslog-sd-id", "acme@4242",
		"--spool", "/var/spool/launchtap", "--spool-max-bytes", "1048576", "--spool-sync", "interval",
		"--syslog-resend-window", "0", "--syslog-max-udp", "1472",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.URLs, []string{"tcp://127.0.0.1:514", "udp://[::1]:514?format=cef"}) ||
		c.Format != "leef" || c.Facility != "local7" || c.SDID != "acme@4242" || c.Spool != "/var/spool/launchtap" ||
		c.SpoolMaxBytes != 1<<20 || c.SpoolSync != SyncInterval || c.ResendWindow >= 0 || c.MaxUDP != 1472 {
		t.Errorf("parsed %+v", c)
	}
	got, err := c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.ResendWindow != 0 || got.QueueLen != DefaultQueueLen || got.UDPRate != 500 {
		t.Errorf("defaults %+v", got)
	}
	if d, _ := parseDest(c.URLs[1], c.Format); d.format != FormatCEF {
		t.Errorf("per-URL format: %+v", d)
	}

	for _, bad := range [][]string{
		{"--syslog", "http://x"}, {"--syslog", "tcp://x?format=xml"}, {"--syslog-resend-window", "-1s"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		new(Config).RegisterFlags(fs)
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	got, err := (&Config{}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.Format != FormatRFC5424 || got.Facility != "local4" || got.SDID != "launchtap@32473" ||
		got.ResendWindow != 2*time.Second || got.MaxUDP != 8192 || got.SpoolSync != SyncAlways ||
		got.FlushTimeout != 5*time.Second || got.Hostname == "" || got.BOM != "auto" || got.MaxMsg != 8192 {
		t.Errorf("defaults %+v", got)
	}
}

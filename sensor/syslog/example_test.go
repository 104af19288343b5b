package syslog_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/launchtap/launchtap/sensor/alert"
	"github.com/launchtap/launchtap/sensor/syslog"
)

// Send alerts to a SIEM over TLS and to the local daemon, with a spool so a
// receiver outage or a sensor restart loses nothing.
func Example() {
	e, err := syslog.New(syslog.Config{
		URLs:     []string{"tls://siem.example.com:6514?format=cef", "unix:///dev/log"},
		Hostname: "span-sensor-1",
		CAFile:   "/etc/launchtap/siem-ca.pem",
		Spool:    "/var/spool/launchtap",
	}, slog.Default())
	if err != nil {
		return
	}
	e.Alert(&alert.Alert{ID: "a1", Severity: "high", SrcIP: "10.0.0.5", DstFQDN: "updates.example.com", DstPort: 443, Proto: "tcp"})
	e.Stats(map[string]uint64{"packets": 1234, "alerts": 1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // the SIGTERM bound
	defer cancel()
	e.Close(ctx)
}

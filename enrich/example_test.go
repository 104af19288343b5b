package enrich_test

import (
	"context"
	"fmt"
	"time"

	"github.com/launchtap/launchtap/enrich"
	"github.com/launchtap/launchtap/sensor/alert"
)

func Example() {
	s, err := enrich.New(enrich.Config{Inventory: "../testdata/inventory.json"}, nil)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	start := time.Date(2026, 3, 2, 8, 1, 30, 0, time.UTC) // the demo capture
	a := &alert.Alert{SrcIP: "10.20.1.15", DstFQDN: "cdn.example.net", PeriodS: 300, Jitter: 0.003, Beats: 26, FirstSeen: start}
	s.Enrich(context.Background(), a)
	e := a.Enrichment
	fmt.Println(e.Status, e.Provider, e.Device.Hostname, e.Device.Serial)
	fmt.Println(e.Jobs[0].Label, e.Jobs[0].MatchScore)
	for _, why := range e.Jobs[0].Why {
		fmt.Println("-", why)
	}
	// Output:
	// matched file alices-mbp C02XK1Y2JG5H
	// com.example.updater 0.84
	// - StartInterval 300 s matches the observed period 300 s (±6 s)
	// - program arguments name cdn.example.net
	// - plist in the user-writable ~/Library/LaunchAgents
	// - hidden path component ".updater"
	// - non-Apple label
	// - plist modified 10 h before the first beat
}

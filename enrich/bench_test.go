package enrich

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkEnrichFile is the demo alert against the bundled inventory.
func BenchmarkEnrichFile(b *testing.B) {
	s, err := New(Config{Inventory: filepath.Join(repoRoot(), "testdata", "inventory.json")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a := demoAlert()
	b.ReportAllocs()
	for b.Loop() {
		s.Enrich(context.Background(), a)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

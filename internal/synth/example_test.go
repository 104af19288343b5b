package synth_test

import (
	"bytes"
	"fmt"

	"github.com/launchtap/launchtap/internal/synth"
)

// Generate a scenario into memory as pcapng and read its ground truth.
func ExampleGenerate() {
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf, true)
	if err != nil {
		panic(err)
	}
	labels, err := synth.Generate("demo", 1, w)
	if err != nil {
		panic(err)
	}
	if err := w.Flush(); err != nil {
		panic(err)
	}
	for _, l := range labels {
		if l.ShouldAlert {
			fmt.Println(l.SrcIP, l.DstFQDN, l.DstPort, l.Proto, l.PeriodS, l.Beats)
		}
	}
	// Output: 10.20.1.15 cdn.example.net 443 tcp 300 31
}

// An evaluation program generates every labelled scenario for several seeds.
func ExampleEvalScenarios() {
	n := 0
	for _, sc := range synth.EvalScenarios() {
		if sc.Eval && sc.Span > 0 {
			n++
		}
	}
	fmt.Println(n > 15)
	// Output: true
}

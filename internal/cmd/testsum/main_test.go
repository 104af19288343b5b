package main

import (
	"strings"
	"testing"
)

const stream = `{"Action":"run","Package":"p/a","Test":"TestOK"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"p/a","Test":"TestOK","Elapsed":0}
{"Action":"run","Package":"p/a","Test":"TestRoot"}
{"Action":"output","Package":"p/a","Test":"TestRoot","Output":"=== RUN   TestRoot\n"}
{"Action":"output","Package":"p/a","Test":"TestRoot","Output":"    a_test.go:9: veth pair needs root\n"}
{"Action":"output","Package":"p/a","Test":"TestRoot","Output":"--- SKIP: TestRoot (0.00s)\n"}
{"Action":"skip","Package":"p/a","Test":"TestRoot","Elapsed":0}
{"Action":"pass","Package":"p/a","Elapsed":0.5}
{"Action":"output","Package":"p/b","Test":"TestBad","Output":"    b_test.go:3: got 1, want 2\n"}
{"Action":"fail","Package":"p/b","Test":"TestBad","Elapsed":0}
{"Action":"fail","Package":"p/b","Elapsed":0.1}
# p/c [build failed]
`

func TestSummary(t *testing.T) {
	for _, ci := range []bool{false, true} {
		s := &summary{out: map[key]*strings.Builder{}, cut: map[key]int{}, ci: ci}
		var w strings.Builder
		if err := s.read(strings.NewReader(stream), &w); err != nil {
			t.Fatal(err)
		}
		code := s.finish(&w)
		out := w.String()
		for _, want := range []string{"ok  \tp/a\t0.500s\n", "SKIP p/a TestRoot: a_test.go:9: veth pair needs root\n",
			"b_test.go:3: got 1, want 2\n", "FAIL\tp/b\t0.100s\n", "# p/c [build failed]\n", "FAIL: 2 failures"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "TestOK") || strings.Contains(out, "=== RUN") {
			t.Errorf("a passing test's output shown:\n%s", out)
		}
		if code != 1 {
			t.Errorf("exit %d with failures", code)
		}
	}
	// Only a skip: fine locally, a failure under CI.
	onlySkip := strings.Join(strings.Split(stream, "\n")[3:9], "\n")
	for _, ci := range []bool{false, true} {
		s := &summary{out: map[key]*strings.Builder{}, cut: map[key]int{}, ci: ci}
		var w strings.Builder
		s.read(strings.NewReader(onlySkip), &w)
		if code, want := s.finish(&w), map[bool]int{false: 0, true: 1}[ci]; code != want {
			t.Errorf("CI=%v, a skip: exit %d, want %d\n%s", ci, code, want, w.String())
		}
	}
}

package names

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/launchtap/launchtap/internal/tlstest"
)

// goHello is the first flight of Go's TLS client naming sni (tlstest).
func goHello(t testing.TB, sni string) []byte {
	t.Helper()
	return tlstest.MustClientHello(t, sni)
}

func TestHelloSNIGo(t *testing.T) {
	b := goHello(t, "updates.example-cdn.net")
	if len(b) < 1000 {
		t.Fatalf("hello of %d bytes", len(b))
	}
	got, err := HelloSNI(b)
	if err != nil || string(got) != "updates.example-cdn.net" {
		t.Fatalf("HelloSNI = %q, %v", got, err)
	}
	// Cut anywhere, as the first segment of a longer hello: either the
	// name is already there or more bytes are needed; never malformed.
	named := false
	for n := 3; n < len(b); n++ {
		got, err := HelloSNI(b[:n])
		switch {
		case err == nil:
			if string(got) != "updates.example-cdn.net" {
				t.Fatalf("cut at %d: %q", n, got)
			}
			named = true
		case errors.Is(err, ErrIncomplete):
			if named {
				t.Fatalf("cut at %d: incomplete after a shorter cut was named", n)
			}
		default:
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
}

func TestHelloSNI(t *testing.T) {
	valid := goHello(t, "a.example")
	for _, tc := range []struct {
		name string
		b    []byte
		err  error
	}{
		{"empty", nil, ErrNotMine},
		{"http", []byte("GET / HTTP/1.1\r\n"), ErrNotMine},
		{"ssh", []byte("SSH-2.0-OpenSSH_9.6\r\n"), ErrNotMine},
		{"record header only", valid[:5], ErrIncomplete},
		{"zero-length record", []byte{22, 3, 1, 0, 0}, ErrMalformed},
		{"server hello", append([]byte{22, 3, 3, 0, 4}, 2, 0, 0, 0), ErrNotMine},
		{"hello length too small", []byte{22, 3, 1, 0, 4, 1, 0, 0, 1}, ErrMalformed},
		{"extensions past the hello", corrupt(valid, func(b []byte) { b[5+4+2+32+1+int(b[5+4+2+32])] = 0xff }), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HelloSNI(tc.b)
			if !errors.Is(err, tc.err) {
				t.Fatalf("HelloSNI = %q, %v; want %v", got, err, tc.err)
			}
		})
	}
}

func corrupt(b []byte, fn func([]byte)) []byte {
	c := bytes.Clone(b)
	fn(c)
	return c
}

// TestHelloSNIReal reads the ClientHellos of the shared real captures kept
// in the fuzz corpus (internal/cmd/nameseeds) against a golden list.
func TestHelloSNIReal(t *testing.T) {
	var got strings.Builder
	files, _ := filepath.Glob("testdata/fuzz/FuzzHelloSNI/real-*")
	if len(files) == 0 {
		t.Fatal("no real seeds")
	}
	for _, f := range files {
		b := readSeed(t, f)
		name, err := HelloSNI(b)
		got.WriteString(filepath.Base(f) + " " + strconv.Itoa(len(b)) + " " + string(name))
		if err != nil {
			got.WriteString(" " + err.Error())
		}
		got.WriteString("\n")
	}
	golden(t, "testdata/real-sni.golden", got.String())
}

func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, lit, ok := strings.Cut(string(raw), "[]byte(")
	if !ok {
		t.Fatalf("%s: not a []byte seed", path)
	}
	s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

var update = os.Getenv("UPDATE_GOLDEN") != ""

func golden(t *testing.T, path, got string) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestParsersDoNotAllocate(t *testing.T) {
	hello := goHello(t, "a.example")
	req := []byte("CONNECT updates.example.com:443 HTTP/1.1\r\nHost: updates.example.com:443\r\n\r\n")
	get := []byte("GET /x HTTP/1.1\r\nUser-Agent: curl\r\nHost: www.example.com\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() {
		HelloSNI(hello)
		HelloSNI(hello[:100])
		ParseRequest(req)
		ParseRequest(get)
		ParseRequest(get[:20])
	}); n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

func FuzzHelloSNI(f *testing.F) {
	f.Add(goHello(f, "seed.example"))
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		name, err := HelloSNI(b)
		if err == nil && !validHost(name) {
			t.Fatalf("invalid name %q", name)
		}
		if err != nil && name != nil {
			t.Fatalf("name %q with error %v", name, err)
		}
		for _, e := range []error{ErrNotMine, ErrIncomplete, ErrMalformed, ErrNoName} {
			if err == e {
				return
			}
		}
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

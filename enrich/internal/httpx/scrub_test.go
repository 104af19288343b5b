package httpx

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestErrorsCarryNoQuery: a failed request's error names the method and the
// path, once, never the query (host names and addresses being searched), and
// the provider's name appears once.
func TestErrorsCarryNoQuery(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	c := &Client{HTTP: &http.Client{}, Name: "fleet", BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	for _, url := range []string{
		"http://" + addr + "/api/v1/fleet/hosts?query=10.20.1.15&page=0",
		"http://" + addr + "/api/v1/fleet/hosts?query=%zz-secret-host", // a malformed escape fails in NewRequest
	} {
		_, err := c.Do(context.Background(), Request{Method: http.MethodGet, URL: url})
		if err == nil {
			t.Fatalf("%s: no error", url)
		}
		err = API{Name: "fleet"}.Err(err)
		msg := err.Error()
		if strings.Contains(msg, "secret-host") || strings.Contains(msg, "10.20.1.15") || strings.Contains(msg, "query=") {
			t.Errorf("error carries the query: %s", msg)
		}
		if strings.Count(msg, "fleet:") != 1 || !strings.HasPrefix(msg, "fleet: GET ") {
			t.Errorf("want one fleet: prefix then the method: %s", msg)
		}
	}
}

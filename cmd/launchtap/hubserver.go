package main

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedNATS runs a single JetStream server inside the hub process
// (--nats-listen): one box holding the hub and its stream, for a small
// organisation or a demo. It is a plain nats-server: sensors reach it with
// --hub-url as they would a cluster.
func embeddedNATS(listen, store string) (*server.Server, string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, "", fmt.Errorf("nats-listen: %q is not host:port", listen)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, "", fmt.Errorf("nats-listen: %q has no valid port", listen)
	}
	if store == "" {
		return nil, "", fmt.Errorf("nats-store: needed with --nats-listen (the directory JetStream keeps the stream in)")
	}
	srv, err := server.NewServer(&server.Options{ServerName: "launchtap-hub", Host: host, Port: p, JetStream: true,
		StoreDir: store, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, "", fmt.Errorf("nats-listen: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, "", fmt.Errorf("nats-listen: the embedded server did not start on %s", listen)
	}
	return srv, srv.ClientURL(), nil
}

// Package link connects a sensor or a hub process to the NATS JetStream
// cluster they meet on: the connection (TLS, credentials file, endless
// reconnection), the observation stream and the organisation baseline's
// key-value bucket. Both sides create what they need when it is missing
// and never change what exists, so the first to start sets it up and an
// operator's own settings (more replicas, longer retention) are kept.
package link

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/launchtap/launchtap/sensor/hub/obs"
)

// Options say how to reach the cluster.
type Options struct {
	URL   string // nats://host:port or tls://host:port, comma-separated for several servers
	Creds string // NATS credentials file (JWT and NKey seed), "" for none
	CA    string // PEM file of the CA that signed the servers' certificates, "" for the system roots
	Name  string // client name the servers show (the sensor's name)
	// PublishTimeout bounds the wait for an acknowledgement (0: 10 s).
	PublishTimeout time.Duration
	Log            *slog.Logger
}

// Check validates the options without connecting.
func (o *Options) Check() error {
	if o.URL == "" {
		return errors.New("hub-url: empty")
	}
	for _, s := range strings.Split(o.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" {
			return fmt.Errorf("hub-url: %q is not nats://host:port", s)
		}
		switch u.Scheme {
		case "nats", "tls":
		default:
			return fmt.Errorf("hub-url: %q: scheme %q, want nats or tls", s, u.Scheme)
		}
	}
	for _, f := range []struct{ flag, path string }{{"hub-creds", o.Creds}, {"hub-ca", o.CA}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.flag, err)
		}
	}
	return nil
}

// Conn is a connection and its JetStream context.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Dial connects. The first connection may fail (the hub is down when the
// sensor starts): Dial then keeps trying in the background
// (RetryOnFailedConnect) and returns at once, and every later loss is
// reconnected without end, so the caller never redials.
func Dial(o Options) (*Conn, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, time.Second),
		// What is not yet sent waits in the outbox, not in the client.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("hub: disconnected; observations wait in the outbox", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("hub: connected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("hub: connected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("hub: NATS error", "err", err)
		}),
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.CA != "" {
		pem, err := os.ReadFile(o.CA)
		if err != nil {
			return nil, fmt.Errorf("hub-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("hub-ca: %s holds no PEM certificate", o.CA)
		}
		opts = append(opts, nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("hub: connecting to %s: %w", o.URL, err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncTimeout(cmpDur(o.PublishTimeout, 10*time.Second)),
		jetstream.WithPublishAsyncMaxPending(1024))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("hub: %w", err)
	}
	return &Conn{NC: nc, JS: js}, nil
}

// Close drains nothing (the outbox holds what is unsent) and closes.
func (c *Conn) Close() { c.NC.Close() }

func cmpDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Stream limits: a week of every sensor's observations, bounded in bytes
// (the oldest dropped first), with de-duplication over ten minutes — the
// window in which a sensor that lost an acknowledgement sends a frame
// again (retries, a restart re-sending its outbox).
const (
	StreamMaxAge     = 7 * 24 * time.Hour
	StreamMaxBytes   = 64 << 30
	StreamDuplicates = 10 * time.Minute
)

// MaxMsgSize is the stream's message limit: a full frame and its headers
// (the limit counts both), within NATS's default 1 MiB max_payload.
const MaxMsgSize = obs.MaxFrame + 8<<10

// StreamConfig is the observation stream as launchtap creates it, with
// replicas copies (1 for a single server, 3 for a cluster) and at most
// maxBytes stored.
func StreamConfig(replicas int, maxBytes int64) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        obs.Stream,
		Description: "launchtap sensors' observations (docs/many-sensors.md)",
		Subjects:    []string{obs.StreamSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      StreamMaxAge,
		MaxBytes:    maxBytes,
		MaxMsgSize:  MaxMsgSize,
		Duplicates:  StreamDuplicates,
		Replicas:    replicas,
	}
}

// EnsureStream creates the observation stream when it does not exist: with
// three replicas, or one where the servers cannot place three (a single
// server), and StreamMaxBytes, or a quarter of it at a time down to 1 GiB
// where the servers' JetStream storage is smaller. An existing stream is
// left as it is: an operator's settings win.
func EnsureStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, obs.Stream)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("hub: stream %s: %w", obs.Stream, err)
	}
	for _, replicas := range []int{3, 1} {
		for size := int64(StreamMaxBytes); size >= 1<<30; size /= 4 {
			s, err = js.CreateStream(ctx, StreamConfig(replicas, size))
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				s, err = js.Stream(ctx, obs.Stream) // another process created it meanwhile
			}
			if err == nil {
				return s, nil
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("hub: creating stream %s: %w", obs.Stream, err)
			}
		}
	}
	return nil, fmt.Errorf("hub: creating stream %s: %w", obs.Stream, err)
}

// BaselineBucket opens the baseline bucket, creating it when missing (as
// EnsureStream does the stream).
func BaselineBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, obs.BaselineBucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("hub: bucket %s: %w", obs.BaselineBucket, err)
	}
	cfg := jetstream.KeyValueConfig{Bucket: obs.BaselineBucket, Description: "the organisation baseline (docs/baseline.md)",
		History: 8, Storage: jetstream.FileStorage, MaxValueSize: 4 << 20, Replicas: 3}
	kv, err = js.CreateKeyValue(ctx, cfg)
	if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
		cfg.Replicas = 1
		kv, err = js.CreateKeyValue(ctx, cfg)
	}
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, obs.BaselineBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("hub: creating bucket %s: %w", obs.BaselineBucket, err)
	}
	return kv, nil
}

// PublishBaseline puts an organisation baseline (the YAML of a --baseline
// file) in the bucket, returning its revision. The caller validates it
// first: every sensor will load it.
func PublishBaseline(ctx context.Context, js jetstream.JetStream, yaml []byte) (uint64, error) {
	kv, err := BaselineBucket(ctx, js)
	if err != nil {
		return 0, err
	}
	rev, err := kv.Put(ctx, obs.BaselineKey, yaml)
	if err != nil {
		return 0, fmt.Errorf("hub: publishing the baseline: %w", err)
	}
	return rev, nil
}

// WatchBaseline calls fn with the current baseline and with every later
// one, until ctx is done; a deleted baseline is given as nil (the built-in
// alone). The watch survives the connection's losses: the client resumes
// it. It returns when ctx is done, or at once when the bucket cannot be
// opened or watched.
func WatchBaseline(ctx context.Context, js jetstream.JetStream, fn func(yaml []byte, revision uint64)) error {
	var kv jetstream.KeyValue
	var err error
	for {
		// The bucket may not exist until the hub first publishes, and the
		// hub may be unreachable when the sensor starts.
		if kv, err = BaselineBucket(ctx, js); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
	w, err := kv.Watch(ctx, obs.BaselineKey)
	if err != nil {
		return fmt.Errorf("hub: watching the baseline: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				continue // the end of the initial values
			}
			switch e.Operation() {
			case jetstream.KeyValuePut:
				fn(e.Value(), e.Revision())
			default:
				fn(nil, e.Revision())
			}
		}
	}
}

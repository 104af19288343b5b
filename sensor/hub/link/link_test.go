package link

import (
	"strings"
	"testing"
	"time"

	"github.com/launchtap/launchtap/sensor/hub/obs"
)

func TestOptionsCheck(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string // "" valid
	}{
		{Options{URL: "nats://hub:4222"}, ""},
		{Options{URL: "tls://a:4222, nats://b:4222"}, ""},
		{Options{}, "empty"},
		{Options{URL: "hub:4222"}, "not nats://host:port"},
		{Options{URL: "http://hub:4222"}, `scheme "http"`},
		{Options{URL: "nats://hub:4222", Creds: "/nonexistent.creds"}, "hub-creds:"},
		{Options{URL: "nats://hub:4222", CA: "/nonexistent.pem"}, "hub-ca:"},
	} {
		err := tc.o.Check()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}

// The stream keeps what the contract promises: file storage, frames up to
// obs.MaxFrame, a duplicates window of at least 2 min, bounded age and size.
func TestStreamConfig(t *testing.T) {
	c := StreamConfig(3, StreamMaxBytes)
	if c.Name != obs.Stream || len(c.Subjects) != 1 || c.Subjects[0] != obs.StreamSubjects || c.Replicas != 3 {
		t.Errorf("stream %s %v replicas %d", c.Name, c.Subjects, c.Replicas)
	}
	if c.Duplicates < 2*time.Minute || c.MaxAge <= 0 || c.MaxBytes <= 0 || c.MaxMsgSize <= obs.MaxFrame || c.MaxMsgSize > 1<<20 {
		t.Errorf("limits: duplicates %v, age %v, bytes %d, message %d", c.Duplicates, c.MaxAge, c.MaxBytes, c.MaxMsgSize)
	}
}

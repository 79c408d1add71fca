package feed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/atalaya-project/atalaya/internal/store"
)

// NATS names (docs/feeds.md).
const (
	// SitesStream is the JetStream stream holding every agency's events.
	SitesStream = "ATALAYA_SITES"
	// SitesSubject is the subject prefix: an agency's events are on
	// SitesSubject + "." + agency id.
	SitesSubject = "atalaya.sites"
)

// SitesSubjectOf is agency's subject.
func SitesSubjectOf(agency string) string { return SitesSubject + "." + agency }

// NATSConfig configures the NATS sink's stream.
type NATSConfig struct {
	// MaxAge is how long events stay in the stream for subscribers to
	// replay (default 30 days).
	MaxAge time.Duration
	// Duplicates is the Nats-Msg-Id de-duplication window (default 10
	// min: longer than the dispatcher's lease, so a redelivery after a
	// dispatcher died is stored once).
	Duplicates time.Duration
	// Replicas of the stream (default 1; 3 on a NATS cluster).
	Replicas int
}

// NATSSink publishes each alert on the subject of every agency that may see
// its site, in a JetStream stream, so subscribers can replay what they
// missed. It is not an AgencySink: one sink serves all agencies, and the
// subjects are its filter.
type NATSSink struct {
	js jetstream.JetStream
}

// NewNATSSink creates or updates the stream on nc.
func NewNATSSink(ctx context.Context, nc *nats.Conn, cfg NATSConfig) (*NATSSink, error) {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 30 * 24 * time.Hour
	}
	if cfg.Duplicates <= 0 {
		cfg.Duplicates = 10 * time.Minute
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("nats sink: jetstream: %w", err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        SitesStream,
		Description: "Atalaya site events per agency (docs/feeds.md)",
		Subjects:    []string{SitesSubject + ".*"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      cfg.MaxAge,
		Duplicates:  cfg.Duplicates,
		Replicas:    cfg.Replicas,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("nats sink: stream %s: %w", SitesStream, err)
	}
	return &NATSSink{js: js}, nil
}

// Name implements Sink.
func (n *NATSSink) Name() string { return "nats" }

// Deliver implements Sink: the event on SitesSubjectOf(agency) for each
// agency in the site's audience, each with Nats-Msg-Id alert id + "." +
// agency (so a retry after a partial failure stores each once).
func (n *NATSSink) Deliver(ctx context.Context, a store.Alert) error {
	ev, err := ParseEvent(a)
	if err != nil {
		return fmt.Errorf("nats sink: %w: %w", ErrPermanent, err)
	}
	for _, agency := range ev.Site.Audience() {
		if !validToken(agency) {
			return fmt.Errorf("nats sink: alert %s: %w: agency id %q cannot be a subject token", a.ID, ErrPermanent, agency)
		}
		msg := &nats.Msg{Subject: SitesSubjectOf(agency), Data: []byte(a.Payload), Header: nats.Header{}}
		msg.Header.Set(HeaderAlertID, a.ID)
		msg.Header.Set(HeaderEvent, a.Kind)
		if _, err := n.js.PublishMsg(ctx, msg, jetstream.WithMsgID(a.ID+"."+agency)); err != nil {
			return fmt.Errorf("nats sink: alert %s to %s: %w", a.ID, agency, err)
		}
	}
	return nil
}

// validToken reports whether s is a NATS subject token with no wildcard
// and nothing a shell or a subject parser would trip on.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}

// WakeSubject is where a process that committed alerts tells dispatchers
// elsewhere to look at the outbox now (Wake) rather than at their next
// poll.
const WakeSubject = "atalaya.feed.wake"

// Wake asks every dispatcher listening on nc's server (ListenWake) to fan
// out the outbox now. Call it after committing an alert; losing it only
// delays the alert to the next poll.
func Wake(nc *nats.Conn) error {
	if err := nc.Publish(WakeSubject, nil); err != nil {
		return fmt.Errorf("wake the dispatchers: %w", err)
	}
	return nil
}

// ListenWake makes the dispatcher wake on WakeSubject; unsubscribe to stop.
func (d *Dispatcher) ListenWake(nc *nats.Conn) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(WakeSubject, func(*nats.Msg) { d.Notify() })
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", WakeSubject, err)
	}
	return sub, nil
}

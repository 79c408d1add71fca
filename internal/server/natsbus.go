package server

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/nats-io/nats.go"
)

// EventSubjectPrefix starts the NATS subject of every event; the owning
// agency's id ends it: atalaya.events.<agency>.
const EventSubjectPrefix = "atalaya.events."

var subjectToken = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// NATSPublisher publishes events on NATS, to the hubs of every API process
// (multi-process mode), on subject atalaya.events.<owner agency>.
type NATSPublisher struct {
	Conn *nats.Conn
}

type wireEvent struct {
	Type       string          `json:"type"`
	Owner      string          `json:"owner"`
	ReleasedTo []string        `json:"released_to,omitempty"`
	Action     Action          `json:"action"`
	Data       json.RawMessage `json:"data"`
}

// Publish implements Publisher.
func (p NATSPublisher) Publish(_ context.Context, e Event) error {
	owner := e.Owner
	if !subjectToken.MatchString(owner) {
		return fmt.Errorf("event %s: owner %q is not a NATS subject token", e.Type, owner)
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return fmt.Errorf("event %s: %w", e.Type, err)
	}
	b, err := json.Marshal(wireEvent{Type: e.Type, Owner: owner, ReleasedTo: e.ReleasedTo, Action: e.Action, Data: data})
	if err != nil {
		return err
	}
	return p.Conn.Publish(EventSubjectPrefix+owner, b)
}

// SubscribeNATS feeds hub with the events published on NATS by every
// process; it returns the subscription (Unsubscribe it at shutdown).
func SubscribeNATS(nc *nats.Conn, hub *Hub) (*nats.Subscription, error) {
	return nc.Subscribe(EventSubjectPrefix+">", func(m *nats.Msg) {
		var w wireEvent
		if err := json.Unmarshal(m.Data, &w); err != nil || w.Type == "" {
			return // not an event of ours
		}
		_ = hub.Publish(context.Background(), Event{Type: w.Type, Owner: w.Owner, ReleasedTo: w.ReleasedTo,
			Action: w.Action, Data: w.Data})
	})
}

package feed

import (
	"context"
	"errors"

	"github.com/atalaya-project/atalaya/internal/store"
)

// Sink is somewhere alerts go: a webhook URL, a NATS subject tree, a TAK
// server. The dispatcher calls Deliver for one alert at a time per site, in
// order; a nil error means the receiver has the alert (it will not be sent
// again unless the dispatcher dies before recording that). Deliver must
// return when ctx is done.
type Sink interface {
	// Name identifies the sink's delivery queue in the store; it must be
	// stable across restarts and unique among sinks (e.g. "webhook:ID",
	// "nats", "tak:AGENCY").
	Name() string
	// Deliver sends one alert. An error wrapping ErrPermanent makes the
	// alert a dead letter at once (retrying cannot help: the receiver
	// refused it); any other error is retried with backoff.
	Deliver(ctx context.Context, a store.Alert) error
}

// AgencySink is a sink that delivers to one agency: the dispatcher gives it
// only the alerts whose site that agency may see. A sink that is not an
// AgencySink gets every alert and must filter itself (as the NATS sink does,
// publishing each alert only on the subjects of the agencies that may see
// it).
type AgencySink interface {
	Sink
	// Agency is the receiving agency's id.
	Agency() string
}

// ErrPermanent marks a delivery error that retrying cannot fix (for
// example an HTTP 4xx other than 408 and 429): the alert becomes a dead
// letter at once.
var ErrPermanent = errors.New("feed: permanent delivery failure")

// ErrNotConnected is returned by a sink that has no connection to its
// receiver at the moment (it is retried).
var ErrNotConnected = errors.New("feed: sink not connected")

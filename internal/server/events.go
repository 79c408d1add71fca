package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Event is one live update. Owner and ReleasedTo decide who sees it
// (Visible), and Action what the principal must be allowed.
type Event struct {
	ID         uint64   `json:"id"`
	Type       string   `json:"type"` // site, decision, granule
	Owner      string   `json:"owner"`
	ReleasedTo []string `json:"released_to,omitempty"`
	Action     Action   `json:"action"`
	Data       any      `json:"data"`
	frame      []byte   // the whole SSE frame, made once for every client
}

// Publisher delivers events to every API process's hub: in process, the
// Hub itself; across processes, a NATSPublisher on atalaya.events.<agency>
// with a NATSSubscriber feeding each process's hub.
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}

func (s *Server) publish(ctx context.Context, e Event) {
	if err := s.pub.Publish(ctx, e); err != nil {
		s.log.Error("event not published", "type", e.Type, "err", err)
	}
}

// PublishGranule publishes a granule's change (after its commit); owner
// "" means the host agency of the country under the granule, else
// Config.HostAgency.
func (s *Server) PublishGranule(ctx context.Context, g GranuleJSON, owner string) {
	if owner == "" {
		if ow, err := s.cfg.Sites.Owners(ctx); err == nil {
			owner = ow.Of((g.BBox[1]+g.BBox[3])/2, (g.BBox[0]+g.BBox[2])/2)
		}
	}
	if owner == "" {
		owner = s.cfg.HostAgency
	}
	s.publish(ctx, Event{Type: "granule", Owner: owner, Action: access.ReadGranules, Data: g})
}

// GranuleChanged publishes a granule's change made outside the API (a
// worker's commit), and observes its processing latency once done.
func (s *Server) GranuleChanged(ctx context.Context, g store.Granule) {
	if g.Status == store.GranuleDone && !g.Created.IsZero() {
		s.metrics.granuleLat.Observe(s.cfg.Now().Sub(g.Created).Seconds())
	}
	s.PublishGranule(ctx, granuleJSON(g), "")
}

// SitesChanged publishes the sites' current state (after the commit that
// changed them, e.g. a worker's fusion), each to the agencies that see it.
func (s *Server) SitesChanged(ctx context.Context, ids ...string) {
	if len(ids) == 0 {
		return
	}
	owners, err := s.cfg.Sites.Owners(ctx)
	if err != nil {
		s.log.Error("site events not published", "err", err)
		return
	}
	for _, id := range ids {
		st, err := s.cfg.Store.Site(ctx, id)
		if err != nil {
			s.log.Error("site event not published", "site", id, "err", err)
			continue
		}
		v, err := s.view(ctx, owners, st)
		if err != nil {
			s.log.Error("site event not published", "site", id, "err", err)
			continue
		}
		s.publish(ctx, Event{Type: "site", Owner: v.owner, ReleasedTo: v.releasedTo, Action: access.ReadSites, Data: siteJSON(v)})
	}
}

// HubConfig configures a Hub.
type HubConfig struct {
	Buffer int    // events queued per client before it is dropped
	Ring   int    // events kept for resume
	Start  uint64 // the first event's id is Start+1
	// OnClients is told the number of clients after each change; OnDrop
	// when a slow client is dropped.
	OnClients func(int)
	OnDrop    func()
}

// Hub fans events out to SSE clients. Each event gets the next id of a
// monotonically increasing sequence and is kept in a ring of the latest
// Ring events, so a client reconnecting with Last-Event-ID within that
// window misses nothing. A client whose buffer is full is dropped (its
// stream ends; it reconnects and resumes) and never slows the others.
type Hub struct {
	cfg     HubConfig
	mu      sync.Mutex
	seq     uint64
	ring    []Event // circular, len ≤ cfg.Ring
	head    int     // index of the oldest event when full
	clients map[*client]struct{}
	closed  bool
}

type client struct {
	p       Principal
	ch      chan *Event
	dropped bool
	done    chan struct{} // closed when the hub drops or closes it
}

// NewHub returns an empty hub.
func NewHub(cfg HubConfig) *Hub {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 256
	}
	if cfg.Ring <= 0 {
		cfg.Ring = 4096
	}
	return &Hub{cfg: cfg, seq: cfg.Start, clients: map[*client]struct{}{}}
}

// Publish assigns the event its id and delivers it; it never blocks on a
// client.
func (h *Hub) Publish(_ context.Context, e Event) error {
	b, err := json.Marshal(e.Data)
	if err != nil {
		return fmt.Errorf("event %s: %w", e.Type, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.seq++
	e.ID = h.seq
	e.frame = fmt.Appendf(make([]byte, 0, len(b)+len(e.Type)+40), "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Type, b)
	ev := &e
	if len(h.ring) < h.cfg.Ring {
		h.ring = append(h.ring, e)
	} else {
		h.ring[h.head] = e
		h.head = (h.head + 1) % len(h.ring)
	}
	for c := range h.clients {
		if !visibleTo(c.p, ev) {
			continue
		}
		select {
		case c.ch <- ev:
		default:
			h.dropLocked(c)
			if h.cfg.OnDrop != nil {
				h.cfg.OnDrop()
			}
		}
	}
	return nil
}

func visibleTo(p Principal, e *Event) bool {
	return p.Can(e.Action) && Visible(p, e.Owner, e.ReleasedTo)
}

func (h *Hub) dropLocked(c *client) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	c.dropped = true
	close(c.done)
	if h.cfg.OnClients != nil {
		h.cfg.OnClients(len(h.clients))
	}
}

// subscribe registers a client and returns the retained events after
// lastID it may see; reset is true when lastID is older than the ring (or
// not from this sequence): events were lost, reload.
func (h *Hub) subscribe(p Principal, lastID uint64, resume bool) (c *client, backlog []*Event, reset bool, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, false, false
	}
	if resume {
		oldest := h.seq + 1 // no event retained
		if len(h.ring) > 0 {
			oldest = h.ring[h.head].ID
		}
		switch {
		case lastID > h.seq, lastID+1 < oldest:
			reset = true
		default:
			for i := range h.ring {
				e := &h.ring[(h.head+i)%len(h.ring)]
				if e.ID > lastID && visibleTo(p, e) {
					backlog = append(backlog, e)
				}
			}
		}
	}
	c = &client{p: p, ch: make(chan *Event, h.cfg.Buffer), done: make(chan struct{})}
	h.clients[c] = struct{}{}
	if h.cfg.OnClients != nil {
		h.cfg.OnClients(len(h.clients))
	}
	return c, backlog, reset, true
}

func (h *Hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.done)
		if h.cfg.OnClients != nil {
			h.cfg.OnClients(len(h.clients))
		}
	}
}

// Close ends every stream; later subscriptions are refused.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		delete(h.clients, c)
		close(c.done)
	}
	if h.cfg.OnClients != nil {
		h.cfg.OnClients(0)
	}
}

// Clients is the number of connected clients.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// LastID is the id of the latest event.
func (h *Hub) LastID() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// events streams Server-Sent Events (text/event-stream): "site",
// "decision" and "granule" events with increasing ids; "reset" when the
// Last-Event-ID given is outside the retained window (reload, then
// continue); "dropped" before the stream ends because the client fell
// behind (reconnect with Last-Event-ID); "unauthorized" before the stream
// ends because the credentials were revoked or expired (checked at each
// heartbeat); comment lines as heartbeats.
func (s *Server) events(w http.ResponseWriter, r *http.Request, c *call) error {
	rc := http.NewResponseController(w)
	var (
		lastID uint64
		resume bool
	)
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return invalid("Last-Event-ID", "%q: want the id of the last event received", v)
		}
		lastID, resume = id, true
	}
	cl, backlog, reset, ok := s.hub.subscribe(c.p, lastID, resume)
	if !ok {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "", "shutting down: reconnect shortly")
	}
	defer s.hub.unsubscribe(cl)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A reconnect delay hint, then the backlog.
	if _, err := fmt.Fprintf(w, "retry: 2000\n\n"); err != nil {
		return nil
	}
	if reset {
		fmt.Fprintf(w, "id: %d\nevent: reset\ndata: {\"last_id\":%d}\n\n", s.hub.LastID(), s.hub.LastID())
	}
	for _, e := range backlog {
		writeEvent(w, e)
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	tick := time.NewTicker(s.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case e := <-cl.ch:
			writeEvent(w, e)
			// Drain what else is queued before flushing once.
			for n := len(cl.ch); n > 0; n-- {
				writeEvent(w, <-cl.ch)
			}
			if rc.Flush() != nil {
				return nil
			}
		case <-tick.C:
			// The credentials are checked again: a revoked token, an
			// ended session or a disabled user ends the stream.
			if p, err := s.cfg.Auth.Authenticate(r.Context(), r); err != nil || p != c.p {
				if err == nil || isUnauthorized(err) {
					fmt.Fprint(w, "event: unauthorized\ndata: {\"reason\":\"the credentials are no longer valid: log in again\"}\n\n")
					_ = rc.Flush()
					return nil
				}
				s.log.Warn("SSE re-authentication failed", "err", err) // the store, not the client: keep going
			}
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		case <-cl.done:
			// Events queued before the drop still go out.
			for n := len(cl.ch); n > 0; n-- {
				writeEvent(w, <-cl.ch)
			}
			if cl.dropped {
				fmt.Fprint(w, "event: dropped\ndata: {\"reason\":\"slow client: reconnect with Last-Event-ID\"}\n\n")
			}
			_ = rc.Flush()
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

func writeEvent(w http.ResponseWriter, e *Event) {
	_, _ = w.Write(e.frame)
}

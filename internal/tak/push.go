package tak

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/store"
)

// ErrNotConnected: the pusher has no connection to its TAK server now; the
// outbox keeps the alert and tries again.
var ErrNotConnected = errors.New("tak push: not connected")

// PushConfig configures a connection to a partner's TAK server.
type PushConfig struct {
	// Address is the server's host:port (8089 for TLS, 8087 for plain TCP
	// by convention).
	Address string
	// TLS is the client configuration (client certificate and the server's
	// CA); nil means plain TCP.
	TLS *tls.Config
	// AgencyID is the partner agency the server belongs to: only what it
	// may know of is ever sent.
	AgencyID string
	// Site says how sites become events (Lang: the agency's language).
	Site  cot.SiteOptions
	Sites Sites
	// MinBackoff and MaxBackoff bound the wait between connection attempts
	// (doubling, with ±20% jitter; defaults 500 ms and 1 min).
	MinBackoff, MaxBackoff time.Duration
	// PingEvery is how often to ping the server (t-x-c-t; default 15 s).
	PingEvery time.Duration
	// RefreshEvery is how often the pushed sites are reconciled with the
	// store (default 30 s): sites released or changed since, withdrawals
	// of those that no longer show.
	RefreshEvery time.Duration
	// WriteTimeout bounds one event's write (default 10 s).
	WriteTimeout time.Duration
	// OfferWait is how long after connecting the snapshot waits for the
	// server's offer of TAK protocol version 1 (t-x-takp-v; TAK Server
	// sends it at once), so that it goes as protobuf (default 1 s). An
	// offer that comes later is taken too.
	OfferWait time.Duration
	// ResponseWait is how long to wait for the answer to a protocol
	// request (default 1 min, protocol.txt's "at least one minute"); a
	// server that does not answer is disconnected and gets XML from then
	// on.
	ResponseWait time.Duration
	// XMLOnly never asks for protobuf.
	XMLOnly bool
	Log     *slog.Logger
	Now     func() time.Time
	// Dial opens the TCP connection (default net.Dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Pusher pushes an agency's released sites to its TAK server as a client:
// XML CoT over TLS with a client certificate or over plain TCP. It
// reconnects with backoff, sends every live site again on each connect,
// answers the server's pings and pings it.
type Pusher struct {
	cfg PushConfig

	mu   sync.Mutex
	conn *pushConn // nil when not connected
	wmu  sync.Mutex
	up   chan struct{} // closed and replaced on each connect
	// noProto is set when the server did not answer a protocol request:
	// it gets XML from then on.
	noProto atomic.Bool

	smu  sync.Mutex
	sent map[string]sentSite // this connection's: per site, what was written last
}

// NewPusher returns a pusher; Run connects it.
func NewPusher(cfg PushConfig) (*Pusher, error) {
	if cfg.Address == "" || cfg.AgencyID == "" || cfg.Sites == nil {
		return nil, errors.New("tak push: Address, AgencyID and Sites are required")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(time.Minute, cfg.MinBackoff)
	}
	if cfg.PingEvery <= 0 {
		cfg.PingEvery = 15 * time.Second
	}
	if cfg.RefreshEvery <= 0 {
		cfg.RefreshEvery = 30 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.OfferWait <= 0 {
		cfg.OfferWait = time.Second
	}
	if cfg.ResponseWait <= 0 {
		cfg.ResponseWait = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	return &Pusher{cfg: cfg, up: make(chan struct{})}, nil
}

// Connected returns a channel closed at the next successful connect (or
// already closed if connected now).
func (p *Pusher) Connected() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up
}

// Run keeps the connection up until ctx ends.
func (p *Pusher) Run(ctx context.Context) error {
	log := p.cfg.Log.With("tak_server", p.cfg.Address, "agency", p.cfg.AgencyID)
	backoff := p.cfg.MinBackoff
	for ctx.Err() == nil {
		start := p.cfg.Now()
		err := p.session(ctx, log)
		if ctx.Err() != nil {
			break
		}
		if p.cfg.Now().Sub(start) > 2*p.cfg.MaxBackoff {
			backoff = p.cfg.MinBackoff // it was up a good while: start over
		}
		wait := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		log.Warn("tak server connection lost, reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, p.cfg.MaxBackoff)
	}
	return nil
}

// pushConn is one connection to the server; proto (guarded by the
// pusher's wmu) is set once both sides switched to TAK protocol version 1.
type pushConn struct {
	net.Conn
	proto bool
}

// Protocol returns the TAK protocol version of the current connection: 0
// (XML) or 1 (protobuf); -1 when not connected.
func (p *Pusher) Protocol() int {
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c == nil {
		return -1
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if c.proto {
		return cot.ProtocolVersion
	}
	return 0
}

// session connects, waits briefly for the server's protocol offer, sends
// the snapshot, then reads until the connection fails.
func (p *Pusher) session(ctx context.Context, log *slog.Logger) error {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	nc, err := p.cfg.Dial(dctx, "tcp", p.cfg.Address)
	cancel()
	if err != nil {
		return err
	}
	if p.cfg.TLS != nil {
		tc := tls.Client(nc, p.cfg.TLS)
		hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	c := &pushConn{Conn: nc}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	settled := make(chan struct{}) // the protocol is decided
	readDone := make(chan error, 1)
	go func() { readDone <- p.read(c, settled, log) }()
	select {
	case <-settled:
	case <-time.After(p.cfg.OfferWait):
	case err := <-readDone:
		return err
	}

	// The snapshot first, then Deliver may write: until then it answers
	// ErrNotConnected and the outbox retries, so no change is written
	// before the state it changes.
	p.smu.Lock()
	p.sent = map[string]sentSite{}
	p.smu.Unlock()
	if err := p.reconcile(ctx, c); err != nil {
		c.Close()
		<-readDone
		return fmt.Errorf("snapshot: %w", err)
	}
	p.mu.Lock()
	p.conn = c
	close(p.up)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.conn = nil
		p.up = make(chan struct{})
		p.mu.Unlock()
	}()
	log.Info("tak server connected", "protocol", p.Protocol())
	pingDone := make(chan struct{})
	defer close(pingDone)
	go func() {
		t := time.NewTicker(p.cfg.PingEvery)
		defer t.Stop()
		r := time.NewTicker(p.cfg.RefreshEvery)
		defer r.Stop()
		for {
			select {
			case <-t.C:
				if err := p.write(c, cot.Ping(p.cfg.Now())); err != nil {
					c.Close()
					return
				}
			case <-r.C:
				if err := p.reconcile(ctx, c); err != nil {
					log.Warn("tak push refresh", "err", err)
					c.Close()
					return
				}
			case <-pingDone:
				return
			}
		}
	}()
	return <-readDone
}

// read reads the server's events until the connection fails: it answers
// pings and takes the server's offer of TAK protocol version 1 (closing
// settled once the protocol is decided: at once if the offer is declined).
func (p *Pusher) read(c *pushConn, settled chan struct{}, log *slog.Logger) error {
	r := cot.NewReader(c)
	offered := false
	for {
		e, err := r.Next()
		if err != nil {
			if !offered {
				close(settled)
			}
			return err
		}
		switch {
		case e.Type == cot.TypePing:
			if err := p.write(c, cot.Pong(p.cfg.Now())); err != nil {
				return err
			}
		case e.Type == cot.TypeProtocolOffer && !offered:
			offered = true
			if cot.OffersProtocol(e, cot.ProtocolVersion) && !p.cfg.XMLOnly && !p.noProto.Load() {
				if err := p.negotiate(c, r, e.UID, log); err != nil {
					close(settled)
					return err
				}
			}
			close(settled)
		}
	}
}

// negotiate asks for version 1 and waits for the answer, writing nothing
// meanwhile (protocol.txt: no XML after the request). A true answer
// switches both directions to frames; a false one leaves XML; no answer
// within ResponseWait closes the connection, and the server gets XML from
// then on.
func (p *Pusher) negotiate(c *pushConn, r *cot.Reader, uid string, log *slog.Logger) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	b, err := cot.Marshal(cot.ProtocolRequest(uid, p.cfg.Now()))
	if err != nil {
		return err
	}
	// No newline after it: the server's next read after the switch
	// expects a frame.
	_ = c.SetWriteDeadline(p.cfg.Now().Add(p.cfg.WriteTimeout))
	if _, err := c.Write(b); err != nil {
		return err
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(p.cfg.ResponseWait, func() { timedOut.Store(true); c.Close() })
	defer timer.Stop()
	for {
		e, err := r.Next()
		if err != nil {
			if timedOut.Load() {
				p.noProto.Store(true)
				log.Warn("tak server did not answer the protocol request: XML from now on", "waited", p.cfg.ResponseWait)
				return fmt.Errorf("no answer to the TAK protocol request within %s", p.cfg.ResponseWait)
			}
			return err
		}
		accepted, ok := cot.ProtocolAccepted(e)
		if !ok {
			continue // pings too: nothing may be written until the answer
		}
		if accepted {
			_ = r.UseProtocol(cot.ProtocolVersion)
			c.proto = true
			log.Info("tak server switched to TAK protocol version 1 (protobuf)")
		} else {
			log.Info("tak server declined TAK protocol version 1: staying on XML")
		}
		return nil
	}
}

// reconcile brings the server up to date with the store: every site the
// agency shows that was not written on this connection (all of them on
// connect), or in an older version; the withdrawal of every site written
// that no longer shows.
func (p *Pusher) reconcile(ctx context.Context, c *pushConn) error {
	sites, err := p.cfg.Sites.ReleasedTo(ctx, p.cfg.AgencyID)
	if err != nil {
		return err
	}
	now := p.cfg.Now()
	current := map[string]Site{}
	for _, s := range sites {
		if Shows(s, p.cfg.AgencyID, p.cfg.Site, now) {
			current[s.ID] = s
		}
	}
	p.smu.Lock()
	var gone []string
	var changed []Site
	versions := map[string]int64{}
	for id, st := range p.sent {
		if _, ok := current[id]; st.shown && !ok {
			gone = append(gone, id)
			versions[id] = st.version
		}
	}
	for id, s := range current {
		if st, ok := p.sent[id]; !ok || !st.shown || st.version < s.Version {
			changed = append(changed, s)
		}
	}
	p.smu.Unlock()
	for _, id := range gone {
		if err := p.writeSite(c, id, versions[id], false, cot.DeleteEvent(id, p.cfg.Site, now)); err != nil {
			return err
		}
	}
	for _, s := range changed {
		e, err := cot.SiteEvent(s.Site, p.cfg.Site, now)
		if err != nil {
			p.cfg.Log.Error("tak site event", "site", s.ID, "err", err)
			continue
		}
		if err := p.writeSite(c, s.ID, s.Version, true, e); err != nil {
			return err
		}
	}
	return nil
}

// writeSite writes an event about a site unless this connection has had
// it, or a newer version, already, and records it.
func (p *Pusher) writeSite(c *pushConn, id string, version int64, shown bool, e cot.Event) error {
	p.smu.Lock()
	defer p.smu.Unlock()
	if last, ok := p.sent[id]; ok && (last.version > version || last.version == version && last.shown == shown) {
		return nil
	}
	if err := p.write(c, e); err != nil {
		return err
	}
	p.sent[id] = sentSite{version: version, shown: shown}
	return nil
}

// write sends one event in the connection's protocol (XML and a newline,
// or a TAK protocol frame), without TAK Server's flow tags (an event that
// carries them is dropped as already seen).
func (p *Pusher) write(c *pushConn, e cot.Event) error {
	e.StripFlowTags()
	p.wmu.Lock()
	defer p.wmu.Unlock()
	var b []byte
	var err error
	if c.proto {
		b, err = cot.MarshalFrame(e)
	} else {
		b, err = cot.Marshal(e)
		b = append(b, '\n')
	}
	if err != nil {
		return err
	}
	_ = c.SetWriteDeadline(p.cfg.Now().Add(p.cfg.WriteTimeout))
	_, err = c.Write(b)
	return err
}

// Name implements the outbox Sink: one delivery queue per TAK server.
func (p *Pusher) Name() string { return "tak:" + p.cfg.AgencyID + ":" + p.cfg.Address }

// Agency implements the outbox AgencySink: the partner agency whose server
// this is.
func (p *Pusher) Agency() string { return p.cfg.AgencyID }

// Deliver sends a site's change (its marker, or its withdrawal) if the
// agency may know of the site. It fails with ErrNotConnected, or the write
// error, so that the outbox tries again later.
func (p *Pusher) Deliver(ctx context.Context, a store.Alert) error {
	s, ok, err := siteOf(ctx, a, p.cfg.Sites)
	if err != nil || !ok {
		return err
	}
	e, ok, err := eventFor(s, p.cfg.AgencyID, p.cfg.Site.Lang, p.cfg.Site, p.cfg.Now())
	if err != nil || !ok {
		return err
	}
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c == nil {
		return fmt.Errorf("%w to %s", ErrNotConnected, p.cfg.Address)
	}
	if err := p.writeSite(c, s.ID, s.Version, Shows(s, p.cfg.AgencyID, p.cfg.Site, p.cfg.Now()), e); err != nil {
		c.Close()
		return fmt.Errorf("tak push to %s: %w", p.cfg.Address, err)
	}
	return nil
}

// PushTarget is a partner's TAK server as `atalaya serve --tak-push` names
// it: tls://AGENCY@host:8089 or tcp://AGENCY@host:8087.
type PushTarget struct {
	AgencyID string
	Address  string
	TLS      bool
}

// ParsePushTarget reads a push target.
func ParsePushTarget(s string) (PushTarget, error) {
	u, err := url.Parse(s)
	if err != nil {
		return PushTarget{}, fmt.Errorf("TAK server %q: %w", s, err)
	}
	t := PushTarget{Address: u.Host}
	if u.User != nil {
		t.AgencyID = u.User.Username()
	}
	switch u.Scheme {
	case "tls", "ssl":
		t.TLS = true
	case "tcp":
	default:
		return PushTarget{}, fmt.Errorf("TAK server %q: scheme %q: want tls://AGENCY@host:8089 or tcp://AGENCY@host:8087", s, u.Scheme)
	}
	if t.AgencyID == "" || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return PushTarget{}, fmt.Errorf("TAK server %q: want tls://AGENCY@host:8089 or tcp://AGENCY@host:8087 (agency id, host and port)", s)
	}
	return t, nil
}

// LoadClientP12 reads a client key store (PKCS #12: key, certificate, CA
// chain), as a partner's TAK Server administrator issues one, for the
// pusher's TLS client certificate.
func LoadClientP12(path, password string) (tls.Certificate, []*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, cert, cas, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("%s: %w (is the password right?)", path, err)
	}
	c := tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	for _, ca := range cas {
		c.Certificate = append(c.Certificate, ca.Raw)
	}
	return c, cas, nil
}

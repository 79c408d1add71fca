package tak

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/store"
)

// StreamConfig configures the streaming server.
type StreamConfig struct {
	CA         *CA
	ServerCert tls.Certificate
	Certs      store.TAKCerts
	// Users, if not nil, must still have each certificate's user enabled;
	// the user's current agency decides what the device sees.
	Users    store.UserReader
	Sites    Sites
	Agencies Agencies
	// Site says how sites become events; its Lang is replaced by each
	// agency's.
	Site cot.SiteOptions
	// IdleTimeout closes a connection that sent nothing (not even a ping)
	// for this long (default 2 min; ATAK pings every 15 s or so).
	IdleTimeout time.Duration
	// WriteTimeout bounds one write to a device (default 30 s).
	WriteTimeout time.Duration
	// QueueLen is how many events may wait for a slow device before it is
	// disconnected (it gets every live site again when it reconnects;
	// default 1024).
	QueueLen int
	// GroundTruth, if not nil, records the ground-truth replies devices
	// send (cot.ParseGroundTruth) for the device's user; nil: they are
	// ignored like any other event.
	GroundTruth GroundTruthFunc
	Log         *slog.Logger
	Now         func() time.Time
}

// Stream is the TAK streaming server: field devices connect with TLS and a
// client certificate from Atalaya's CA, and each is sent the released,
// live sites of its agency, on connect and whenever they change.
type Stream struct {
	cfg StreamConfig
	v   verifier
	tls *tls.Config

	mu     sync.Mutex
	conns  map[string]map[*streamConn]struct{} // agency → connections
	lns    []net.Listener
	wg     sync.WaitGroup
	closed bool
}

// NewStream returns a streaming server; call Serve with a listener.
func NewStream(cfg StreamConfig) (*Stream, error) {
	if cfg.CA == nil || cfg.Certs == nil || cfg.Sites == nil || cfg.Agencies == nil {
		return nil, errors.New("tak stream: CA, Certs, Sites and Agencies are required")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 1024
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := verifier{certs: cfg.Certs, users: cfg.Users}
	return &Stream{cfg: cfg, v: v, tls: clientTLS(cfg.CA, cfg.ServerCert, v), conns: map[string]map[*streamConn]struct{}{}}, nil
}

// Serve accepts devices on ln (plain TCP: Serve adds TLS) until Close.
func (s *Stream) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	tl := tls.NewListener(ln, s.tls)
	var delay time.Duration
	for {
		c, err := tl.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c.(*tls.Conn))
		}()
	}
}

// Close stops accepting, disconnects every device and waits for their
// goroutines.
func (s *Stream) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, ln := range s.lns {
		ln.Close()
	}
	for _, cs := range s.conns {
		for c := range cs {
			c.close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Connected returns the number of devices connected per agency.
func (s *Stream) Connected() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for a, cs := range s.conns {
		if len(cs) > 0 {
			out[a] = len(cs)
		}
	}
	return out
}

// streamConn is one connected device.
type streamConn struct {
	s    *Stream
	c    *tls.Conn
	user User
	lang string
	out  chan []byte
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	sent map[string]sentSite // per site, what was queued last
}

// sentSite is what a device was last sent about a site.
type sentSite struct {
	version int64
	shown   bool // a marker (false: its withdrawal)
}

func (c *streamConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.c.Close()
	})
}

// offer queues an event about a site (a marker if shown, else its
// withdrawal) unless a newer version of it was queued already; a full queue
// disconnects the device.
func (c *streamConn) offer(siteID string, version int64, shown bool, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.sent[siteID]; ok && last.version > version {
		return
	}
	c.sent[siteID] = sentSite{version: version, shown: shown}
	c.send(b)
}

// stale returns the sites whose marker the device was sent and that are
// not in current, and those in current it has an older version of (or
// none).
func (c *streamConn) diff(current map[string]Site) (gone []string, changed []Site) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, st := range c.sent {
		if _, ok := current[id]; st.shown && !ok {
			gone = append(gone, id)
		}
	}
	for id, s := range current {
		if st, ok := c.sent[id]; !ok || !st.shown || st.version < s.Version {
			changed = append(changed, s)
		}
	}
	return gone, changed
}

func (c *streamConn) send(b []byte) {
	select {
	case c.out <- b:
	case <-c.done:
	default:
		c.s.cfg.Log.Warn("tak device too slow, disconnecting", "user", c.user.ID, "agency", c.user.AgencyID)
		c.close()
	}
}

func (s *Stream) handle(tc *tls.Conn) {
	log := s.cfg.Log.With("remote", tc.RemoteAddr().String())
	_ = tc.SetDeadline(s.cfg.Now().Add(s.cfg.IdleTimeout))
	if err := tc.Handshake(); err != nil {
		log.Info("tak handshake failed", "err", err)
		tc.Close()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u, err := s.v.user(ctx, tc.ConnectionState().PeerCertificates[0])
	if err != nil {
		log.Warn("tak device refused", "err", err)
		tc.Close()
		return
	}
	lang, err := s.cfg.Agencies.AgencyLang(ctx, u.AgencyID)
	if err != nil {
		log.Error("tak device's agency", "agency", u.AgencyID, "err", err)
		tc.Close()
		return
	}
	c := &streamConn{s: s, c: tc, user: u, lang: lang, out: make(chan []byte, s.cfg.QueueLen),
		done: make(chan struct{}), sent: map[string]sentSite{}}
	log = log.With("user", u.ID, "agency", u.AgencyID)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		tc.Close()
		return
	}
	if s.conns[u.AgencyID] == nil {
		s.conns[u.AgencyID] = map[*streamConn]struct{}{}
	}
	s.conns[u.AgencyID][c] = struct{}{}
	s.mu.Unlock()
	log.Info("tak device connected")
	defer func() {
		s.mu.Lock()
		delete(s.conns[u.AgencyID], c)
		s.mu.Unlock()
		c.close()
		log.Info("tak device disconnected")
	}()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.write(c, log)
	}()

	// Registered first, then the snapshot: a change delivered meanwhile is
	// queued too, and offer keeps the newer version of each site.
	if err := s.snapshot(ctx, c); err != nil {
		log.Error("tak snapshot", "err", err)
		c.close()
	}
	s.read(c, log)
	c.close()
	wg.Wait()
}

// snapshot queues every site the device's agency shows now.
func (s *Stream) snapshot(ctx context.Context, c *streamConn) error {
	sites, err := s.cfg.Sites.ReleasedTo(ctx, c.user.AgencyID)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	o := s.cfg.Site
	o.Lang = c.lang
	for _, st := range sites {
		if !Shows(st, c.user.AgencyID, o, now) {
			continue
		}
		e, err := cot.SiteEvent(st.Site, o, now)
		if err != nil {
			s.cfg.Log.Error("tak site event", "site", st.ID, "err", err)
			continue
		}
		b, err := cot.Marshal(e)
		if err != nil {
			return err
		}
		c.offer(st.ID, st.Version, true, b)
	}
	return nil
}

// read answers pings and records ground-truth replies until the device
// goes away or is idle too long. Atalaya relays nothing between devices:
// other events are ignored.
func (s *Stream) read(c *streamConn, log *slog.Logger) {
	r := cot.NewReader(&deadlineReader{c: c.c, idle: s.cfg.IdleTimeout, now: s.cfg.Now})
	for {
		e, err := r.Next()
		if err != nil {
			select {
			case <-c.done:
			default:
				log.Debug("tak device read", "err", err)
			}
			return
		}
		if e.Type == cot.TypePing {
			b, _ := cot.Marshal(cot.Pong(s.cfg.Now()))
			c.send(b)
			continue
		}
		if s.cfg.GroundTruth != nil {
			s.groundTruth(c, e, log)
		}
	}
}

// deadlineReader extends the read deadline before every read.
type deadlineReader struct {
	c    net.Conn
	idle time.Duration
	now  func() time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if err := d.c.SetReadDeadline(d.now().Add(d.idle)); err != nil {
		return 0, err
	}
	return d.c.Read(p)
}

func (s *Stream) write(c *streamConn, log *slog.Logger) {
	w := bufio.NewWriterSize(c.c, 32<<10)
	for {
		select {
		case b := <-c.out:
			_ = c.c.SetWriteDeadline(s.cfg.Now().Add(s.cfg.WriteTimeout))
			_, err := w.Write(b)
			if err == nil {
				err = w.WriteByte('\n')
			}
			// Batch what is queued already into one TLS record.
			for err == nil && len(c.out) > 0 && w.Buffered() < 16<<10 {
				b = <-c.out
				if _, err = w.Write(b); err == nil {
					err = w.WriteByte('\n')
				}
			}
			if err == nil {
				err = w.Flush()
			}
			if err != nil {
				log.Info("tak device write", "err", err)
				c.close()
				return
			}
		case <-c.done:
			return
		}
	}
}

// Name implements the outbox Sink: the streaming server's delivery queue.
func (s *Stream) Name() string { return "tak:stream" }

// Deliver sends a site's change to the connected devices of every agency
// that may know of it: the marker if it shows, its withdrawal otherwise. It
// implements the outbox Sink; devices that are not connected get the state
// of every site when they connect, so nothing is retried here.
func (s *Stream) Deliver(ctx context.Context, a store.Alert) error {
	st, ok, err := siteOf(ctx, a, s.cfg.Sites)
	if err != nil || !ok {
		return err
	}
	s.mu.Lock()
	targets := map[string][]*streamConn{}
	for agency, cs := range s.conns {
		if !Knows(st, agency) {
			continue
		}
		for c := range cs {
			targets[agency] = append(targets[agency], c)
		}
	}
	s.mu.Unlock()
	now := s.cfg.Now()
	for agency, cs := range targets {
		byLang := map[string][]byte{}
		for _, c := range cs {
			b, ok := byLang[c.lang]
			if !ok {
				e, _, err := eventFor(st, agency, c.lang, s.cfg.Site, now)
				if err != nil {
					return fmt.Errorf("tak stream: %w", err)
				}
				if b, err = cot.Marshal(e); err != nil {
					return fmt.Errorf("tak stream: %w", err)
				}
				byLang[c.lang] = b
			}
			o := s.cfg.Site
			o.Lang = c.lang
			c.offer(st.ID, st.Version, Shows(st, agency, o, now), b)
		}
	}
	return nil
}

// Refresh brings every connected device up to date from the store: the
// sites its agency shows now that it lacks (or has an older version of),
// and the withdrawal of those it was shown that no longer show (dismissed,
// or past their lifetime). It is the reconciliation behind the outbox
// (alerts delivered through Deliver arrive at once; Refresh, run
// periodically, repairs anything missed).
func (s *Stream) Refresh(ctx context.Context) error {
	s.mu.Lock()
	byAgency := map[string][]*streamConn{}
	for agency, cs := range s.conns {
		for c := range cs {
			byAgency[agency] = append(byAgency[agency], c)
		}
	}
	s.mu.Unlock()
	now := s.cfg.Now()
	for agency, cs := range byAgency {
		sites, err := s.cfg.Sites.ReleasedTo(ctx, agency)
		if err != nil {
			return fmt.Errorf("tak stream refresh: %w", err)
		}
		current := map[string]Site{}
		for _, st := range sites {
			if Shows(st, agency, s.cfg.Site, now) {
				current[st.ID] = st
			}
		}
		for _, c := range cs {
			o := s.cfg.Site
			o.Lang = c.lang
			gone, changed := c.diff(current)
			for _, id := range gone {
				c.mu.Lock()
				v := c.sent[id].version
				c.mu.Unlock()
				b, err := cot.Marshal(cot.DeleteEvent(id, o, now))
				if err != nil {
					return err
				}
				c.offer(id, v, false, b)
			}
			for _, st := range changed {
				e, err := cot.SiteEvent(st.Site, o, now)
				if err != nil {
					s.cfg.Log.Error("tak site event", "site", st.ID, "err", err)
					continue
				}
				b, err := cot.Marshal(e)
				if err != nil {
					return err
				}
				c.offer(st.ID, st.Version, true, b)
			}
		}
	}
	return nil
}

// groundTruth records e if it is a ground-truth reply (a refused or
// malformed one is logged; the device's user, agency and the reason are
// in the log, the refusal is not in the store).
func (s *Stream) groundTruth(c *streamConn, e cot.Event, log *slog.Logger) {
	r, ok, err := cot.ParseGroundTruth(e)
	if !ok {
		return
	}
	if err != nil {
		log.Warn("tak ground truth refused", "uid", e.UID, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	id, err := s.cfg.GroundTruth(ctx, c.user, r)
	if err != nil {
		log.Warn("tak ground truth refused", "uid", e.UID, "site", id, "err", err)
		return
	}
	log.Info("tak ground truth recorded", "site", id, "outcome", r.Outcome)
}

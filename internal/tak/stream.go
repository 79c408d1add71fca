package tak

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/feed"
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
	// ServerVersion is the version the protocol offer names
	// (<TakServerVersionInfo serverVersion>; default "Atalaya").
	ServerVersion string
	// XMLOnly leaves out the TAK protocol offer: every device stays on XML.
	XMLOnly bool
	Log     *slog.Logger
	Now     func() time.Time
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
	if cfg.ServerVersion == "" {
		cfg.ServerVersion = "Atalaya"
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
	out  chan outItem
	done chan struct{}
	// offerUID is the uid of the protocol offer sent on connect ("" if
	// none); negotiated is set once the device asked (read goroutine only).
	offerUID   string
	negotiated bool
	// peer is the device as a chat contact, from its position reports
	// and chat messages (read goroutine only).
	peer cot.ChatParty
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
func (c *streamConn) offer(siteID string, version int64, shown bool, w *wireEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.sent[siteID]; ok && last.version > version {
		return
	}
	c.sent[siteID] = sentSite{version: version, shown: shown}
	c.send(outItem{w: w})
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

func (c *streamConn) send(it outItem) {
	select {
	case c.out <- it:
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
	c := &streamConn{s: s, c: tc, user: u, lang: lang, out: make(chan outItem, s.cfg.QueueLen),
		done: make(chan struct{}), sent: map[string]sentSite{}}
	if !s.cfg.XMLOnly {
		// Offered first, as TAK Server does once a client is authenticated.
		c.offerUID = "atalaya-takp-" + randomHex(8)
		if w, err := newWire(cot.ProtocolOffer(c.offerUID, s.cfg.ServerVersion, s.cfg.Now())); err == nil {
			c.send(outItem{w: w})
		}
	}
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
		w, err := newWire(e)
		if err != nil {
			return err
		}
		c.offer(st.ID, st.Version, true, w)
	}
	return nil
}

// read answers pings and protocol requests and records ground-truth
// replies until the device goes away or is idle too long. Atalaya relays
// nothing between devices: other events are ignored.
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
			w, _ := newWire(cot.Pong(s.cfg.Now()))
			c.send(outItem{w: w})
			continue
		}
		if e.Type == cot.TypeProtocolRequest {
			s.negotiate(c, r, e, log)
			continue
		}
		if e.Detail.Contact != nil && e.Detail.Contact.Endpoint != "" && e.Detail.Contact.Callsign != "" {
			c.peer = cot.ChatParty{UID: e.UID, Callsign: e.Detail.Contact.Callsign} // its position report
		}
		if p, ok := cot.ChatSender(e); ok {
			c.peer = p
		}
		if s.cfg.GroundTruth != nil {
			s.groundTruth(c, e, log)
		}
	}
}

// negotiate answers a device's protocol request: version 1, asked once
// after the offer, is accepted; from the request on the device sends
// frames, and from the answer on it is sent frames (the writer switches
// after writing the answer). Anything else is refused and the device stays
// on XML.
func (s *Stream) negotiate(c *streamConn, r *cot.Reader, e cot.Event, log *slog.Logger) {
	v, ok := cot.RequestedProtocol(e)
	accept := ok && v == cot.ProtocolVersion && c.offerUID != "" && !c.negotiated
	uid := c.offerUID
	if uid == "" {
		uid = e.UID
	}
	w, err := newWire(cot.ProtocolResponse(uid, accept, s.cfg.Now()))
	if err != nil {
		log.Error("tak protocol response", "err", err)
		return
	}
	if accept {
		c.negotiated = true
		_ = r.UseProtocol(cot.ProtocolVersion)
		log.Info("tak device switched to TAK protocol version 1 (protobuf)")
	} else {
		log.Info("tak protocol request refused", "version", v, "well_formed", ok)
	}
	c.send(outItem{w: w, switchProto: accept})
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
	proto := false
	for {
		select {
		case it := <-c.out:
			_ = c.c.SetWriteDeadline(s.cfg.Now().Add(s.cfg.WriteTimeout))
			err := it.writeTo(w, &proto, log)
			// Batch what is queued already into one TLS record.
			for err == nil && len(c.out) > 0 && w.Buffered() < 16<<10 {
				it = <-c.out
				err = it.writeTo(w, &proto, log)
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
		byLang := map[string]*wireEvent{}
		for _, c := range cs {
			w, ok := byLang[c.lang]
			if !ok {
				e, _, err := eventFor(st, agency, c.lang, s.cfg.Site, now)
				if err != nil {
					return fmt.Errorf("tak stream: %w", err)
				}
				if w, err = newWire(e); err != nil {
					return fmt.Errorf("tak stream: %w", err)
				}
				byLang[c.lang] = w
			}
			o := s.cfg.Site
			o.Lang = c.lang
			c.offer(st.ID, st.Version, Shows(st, agency, o, now), w)
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
				w, err := newWire(cot.DeleteEvent(id, o, now))
				if err != nil {
					return err
				}
				c.offer(id, v, false, w)
			}
			for _, st := range changed {
				e, err := cot.SiteEvent(st.Site, o, now)
				if err != nil {
					s.cfg.Log.Error("tak site event", "site", st.ID, "err", err)
					continue
				}
				w, err := newWire(e)
				if err != nil {
					return err
				}
				c.offer(st.ID, st.Version, true, w)
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
	id := ""
	if err != nil {
		log.Warn("tak ground truth refused", "uid", e.UID, "err", err)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
		id, err = s.cfg.GroundTruth(ctx, c.user, r)
		cancel()
		if err != nil {
			log.Warn("tak ground truth refused", "uid", e.UID, "site", id, "err", err)
		} else {
			log.Info("tak ground truth recorded", "site", id, "outcome", r.Outcome)
		}
	}
	s.acknowledge(c, AckFor(r, id, err), log)
}

// acknowledge sends the device a GeoChat message from Atalaya, in its
// agency's language, saying what was recorded or why nothing was: to the
// device's own uid when its position report or chat told it, else to All
// Chat Rooms (only this device receives it either way).
func (s *Stream) acknowledge(c *streamConn, a cot.Ack, log *slog.Logger) {
	from := cot.ChatParty{UID: s.cfg.Site.ProducerUID, Callsign: "Atalaya"}
	if from.UID == "" {
		from.UID = "atalaya"
	}
	msg := cot.ChatMessage(from, c.peer, randomHex(8), cot.AckText(c.lang, a), s.cfg.Now())
	w, err := newWire(msg)
	if err != nil {
		log.Error("tak ground truth acknowledgement", "err", err)
		return
	}
	c.send(outItem{w: w})
}

// AckFor says what a device is told about its ground-truth reply r: the
// site it was recorded for (siteID, err nil), or why it was refused (err
// from cot.ParseGroundTruth or the GroundTruthFunc).
func AckFor(r cot.GroundTruthReply, siteID string, err error) cot.Ack {
	a := cot.Ack{SiteID: siteID, ShortID: r.ShortID, Outcome: r.Outcome, Visited: r.Visited}
	if a.SiteID == "" {
		a.SiteID = r.SiteID
	}
	switch {
	case err == nil:
	case errors.Is(err, cot.ErrNoSite):
		a.Refusal = cot.RefusedNoSite
	case errors.Is(err, cot.ErrInvalid):
		a.Refusal = cot.RefusedOutcome // cot.ParseGroundTruth: an outcome or visit time it could not read
	case errors.Is(err, ErrAmbiguousSite):
		a.Refusal = cot.RefusedAmbiguous
	case errors.Is(err, store.ErrNotFound):
		a.Refusal = cot.RefusedUnknownSite
		if a.SiteID == "" {
			a.Refusal = cot.RefusedUnknownShort
		}
	case errors.Is(err, feed.ErrForbidden), errors.Is(err, access.ErrForbidden):
		a.Refusal = cot.RefusedRole
	case errors.Is(err, store.ErrInvalid):
		a.Refusal = cot.RefusedOutcome
	default:
		a.Refusal = cot.RefusedFailed
	}
	return a
}

// wireEvent is an event to send, encoded once for every device that gets
// it: XML at once (so that a bad event is refused before it is queued),
// the TAK protocol version 1 frame when a device that switched needs it.
type wireEvent struct {
	e        cot.Event
	xml      []byte
	once     sync.Once
	frame    []byte
	frameErr error
}

func newWire(e cot.Event) (*wireEvent, error) {
	b, err := cot.Marshal(e)
	if err != nil {
		return nil, err
	}
	return &wireEvent{e: e, xml: b}, nil
}

func (w *wireEvent) protoFrame() ([]byte, error) {
	w.once.Do(func() { w.frame, w.frameErr = cot.MarshalFrame(w.e) })
	return w.frame, w.frameErr
}

// outItem is one thing queued for a device.
type outItem struct {
	w *wireEvent
	// switchProto: this is the protocol response accepting version 1;
	// it is the last XML the device gets (written without the newline:
	// its next byte is the first frame's).
	switchProto bool
}

// writeTo writes the item in the connection's current protocol.
func (it outItem) writeTo(w *bufio.Writer, proto *bool, log *slog.Logger) error {
	if *proto {
		b, err := it.w.protoFrame()
		if err != nil {
			log.Error("tak event as protobuf", "uid", it.w.e.UID, "err", err)
			return nil
		}
		_, err = w.Write(b)
		return err
	}
	_, err := w.Write(it.w.xml)
	if err == nil && !it.switchProto {
		err = w.WriteByte('\n')
	}
	if it.switchProto {
		*proto = true
	}
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

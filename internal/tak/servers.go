package tak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Default ports, as TAK Server and the TAK clients expect them.
const (
	DefaultStreamAddr = ":8089" // TLS streaming, client certificates
	DefaultAPIAddr    = ":8443" // Marti API, client certificates
	DefaultEnrollAddr = ":8446" // certificate enrollment, HTTP Basic
)

// Store is what the TAK servers read and write.
type Store interface {
	IssuerStore
	SiteStore
	store.AgencyReader
	store.UserReader
}

// Config configures the TAK servers of `atalaya serve`.
type Config struct {
	CA *CA
	// Hosts are the names and addresses devices reach Atalaya by; the
	// server certificate covers them.
	Hosts []string
	// StreamAddr, APIAddr and EnrollAddr are listen addresses; an empty one
	// is not served.
	StreamAddr, APIAddr, EnrollAddr string
	Store                           Store
	Owners                          Owners
	Site                            cot.SiteOptions
	Version                         string
	// RefreshEvery is how often connected devices are reconciled with the
	// store (Stream.Refresh; default 30 s): the bound on how late a change
	// arrives when no outbox dispatcher delivers it.
	RefreshEvery time.Duration
	// GroundTruth records devices' ground-truth replies on the streaming
	// port (FeedGroundTruth); nil: ignored.
	GroundTruth GroundTruthFunc
	// XMLOnly: the streaming port offers no TAK protocol version 1.
	XMLOnly bool
	Log     *slog.Logger
}

// Servers are the running TAK servers.
type Servers struct {
	Stream *Stream
	lns    map[string]net.Listener // by role
	https  []*http.Server
	done   chan error
	stop   chan struct{}
	loop   chan struct{}
}

// Start listens on the configured addresses and serves until Close.
func Start(cfg Config) (*Servers, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cert, err := cfg.CA.ServerCert(cfg.Hosts, time.Now())
	if err != nil {
		return nil, err
	}
	sites := StoreSites{Store: cfg.Store, Owners: cfg.Owners}
	serverVersion := "Atalaya"
	if cfg.Version != "" {
		serverVersion += " " + cfg.Version
	}
	st, err := NewStream(StreamConfig{CA: cfg.CA, ServerCert: cert, Certs: cfg.Store, Users: cfg.Store, Sites: sites,
		Agencies: StoreAgencies{Store: cfg.Store}, Site: cfg.Site, GroundTruth: cfg.GroundTruth, ServerVersion: serverVersion, XMLOnly: cfg.XMLOnly, Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	s := &Servers{Stream: st, lns: map[string]net.Listener{}, done: make(chan error, 3),
		stop: make(chan struct{}), loop: make(chan struct{})}
	every := cfg.RefreshEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	go func() {
		defer close(s.loop)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := st.Refresh(context.Background()); err != nil {
					cfg.Log.Error("tak refresh", "err", err)
				}
			case <-s.stop:
				return
			}
		}
	}()
	listen := func(role, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.Close(context.Background())
			return nil, fmt.Errorf("TAK %s port %s: %w", role, addr, err)
		}
		s.lns[role] = ln
		return ln, nil
	}
	mc := MartiConfig{Issuer: &Issuer{CA: cfg.CA, Certs: cfg.Store}, Auth: StoreAuth{Users: cfg.Store, Hashing: make(chan struct{}, 2)},
		Hostname: firstOr(cfg.Hosts, ""), Version: cfg.Version, Log: cfg.Log}
	if cfg.StreamAddr != "" {
		ln, err := listen("stream", cfg.StreamAddr)
		if err != nil {
			return nil, err
		}
		go func() { s.done <- st.Serve(ln) }()
	}
	for _, h := range []struct {
		role, addr string
		handler    http.Handler
	}{
		{"api", cfg.APIAddr, APIHandler(mc, cfg.Store, cfg.Store)},
		{"enroll", cfg.EnrollAddr, EnrollmentHandler(mc)},
	} {
		if h.addr == "" {
			continue
		}
		ln, err := listen(h.role, h.addr)
		if err != nil {
			return nil, err
		}
		tc := EnrollmentTLS(cert)
		if h.role == "api" {
			tc = APITLS(cfg.CA, cert, cfg.Store, cfg.Store)
		}
		srv := &http.Server{Handler: h.handler, TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(cfg.Log.Handler(), slog.LevelDebug)}
		s.https = append(s.https, srv)
		go func() {
			err := srv.ServeTLS(ln, "", "")
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			s.done <- err
		}()
	}
	return s, nil
}

// Addr is the address a role listens on ("stream", "api", "enroll"), or
// nil.
func (s *Servers) Addr(role string) net.Addr {
	if ln, ok := s.lns[role]; ok {
		return ln.Addr()
	}
	return nil
}

// Close stops every server, giving HTTP requests until ctx ends.
func (s *Servers) Close(ctx context.Context) error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.loop
	var errs []error
	for _, h := range s.https {
		errs = append(errs, h.Shutdown(ctx))
	}
	if s.Stream != nil {
		errs = append(errs, s.Stream.Close())
	}
	for role, ln := range s.lns {
		if role != "stream" {
			ln.Close()
		}
	}
	return errors.Join(errs...)
}

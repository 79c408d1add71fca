package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/coverage"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Config configures a Server. Store, Auth, Sites, Directory and Audit
// are required (an *access.Service is the first three); the rest have
// defaults.
type Config struct {
	Store     store.Store
	Auth      Authenticator
	Sites     Jurisdiction
	Audit     Auditor
	Directory Directory
	// Ingest takes finished uploads (nil: uploads are refused with 503).
	Ingest Ingester
	// Assets is the web UI, served at / (nil: / answers 404).
	Assets fs.FS
	// Tiles serves offline imagery below /tiles/ (an mbtiles.Tileset; nil:
	// 404, and the map shows no imagery layer).
	Tiles http.Handler
	// Boundaries is the admin-0 GeoJSON FeatureCollection for the base map
	// (nil: an empty collection).
	Boundaries []byte
	// Publisher carries events to the SSE hubs of every API process (nil:
	// this server's own hub, in process).
	Publisher Publisher
	// Ready checks what /readyz reports besides the store (e.g. NATS
	// connected); nil: nothing more.
	Ready func(context.Context) error
	// AlertCommitted is called after a decision committed a partner alert
	// to the outbox (serve: feed.Wake, so the dispatchers send it now).
	AlertCommitted func()
	// Judged is called after a decision that is a verdict on a site
	// (confirm, dismiss, ground truth) committed: serve recalibrates the
	// sites' probabilities then (fusion.Recalibrate).
	Judged func()
	// Gases are the gases the workers search (the default of GET
	// /coverage's gas).
	Gases []string
	// Survey is the aircraft and sensor of revisit plans (zero fields:
	// coverage.DefaultSurveyOptions's; the heading is always chosen).
	Survey coverage.SurveyOptions
	// HostAgency owns events about granules ingested outside the API.
	HostAgency string

	UploadDir   string        // where uploads are spooled (default: os.TempDir()/atalaya-uploads)
	UploadTTL   time.Duration // an upload unfinished this long is deleted (default 7 days)
	MaxUpload   int64         // bytes per granule upload (default 64 GiB)
	MaxBody     int64         // bytes per JSON request body (default 1 MiB)
	EventBuffer int           // events queued per SSE client before it is dropped (default 256)
	EventRing   int           // events kept for Last-Event-ID resume (default 4096)
	Heartbeat   time.Duration // SSE comment interval (default 15 s)
	// Secure marks the session cookie Secure (set when serving TLS).
	Secure bool

	Log      *slog.Logger
	Registry *prometheus.Registry // nil: a new one
	Now      func() time.Time
}

// Server is Atalaya's HTTP API, the SSE hub and the web UI.
type Server struct {
	cfg     Config
	log     *slog.Logger
	routes  []Route
	mux     *http.ServeMux
	handler http.Handler
	hub     *Hub
	pub     Publisher
	metrics *metrics
	uploads *uploads
	feed    *feedHandlers
	reg     *prometheus.Registry
	// places names sites' municipality, state and country (nil: Natural
	// Earth alone, when the store keeps no administrative areas).
	places *boundaries.Locator
	// assetTags caches the web UI files' ETags.
	assetTags sync.Map
	// gzBoundaries is Config.Boundaries gzipped, made on first use.
	gzOnce       sync.Once
	gzBoundaries []byte
}

// New checks cfg and builds the server's routes.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("server: no store")
	case cfg.Auth == nil:
		return nil, errors.New("server: no authenticator")
	case cfg.Sites == nil:
		return nil, errors.New("server: no jurisdiction")
	case cfg.Directory == nil:
		return nil, errors.New("server: no directory of agencies and users")
	case cfg.Audit == nil:
		return nil, errors.New("server: no audit log")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := coverage.DefaultSurveyOptions()
	for _, f := range []struct {
		v *float64
		d float64
	}{{&cfg.Survey.AltitudeM, def.AltitudeM}, {&cfg.Survey.FOVDeg, def.FOVDeg},
		{&cfg.Survey.Overlap, def.Overlap}, {&cfg.Survey.SpeedMS, def.SpeedMS}} {
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	cfg.Survey.HeadingDeg, cfg.Survey.Home = math.NaN(), nil
	if _, err := coverage.PlanSurvey(orb.MultiPolygon{coverage.Circle(0, 0, MinRevisitRadiusM)}, cfg.Survey); err != nil {
		return nil, fmt.Errorf("server: revisit plans: %w", err)
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 64 << 30
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = 256
	}
	if cfg.EventRing <= 0 {
		cfg.EventRing = 4096
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.UploadDir == "" {
		cfg.UploadDir = os.TempDir() + "/atalaya-uploads"
	}
	if cfg.UploadTTL <= 0 {
		cfg.UploadTTL = 7 * 24 * time.Hour
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	up, err := newUploads(cfg.UploadDir)
	if err != nil {
		return nil, err
	}
	if n, err := up.purge(cfg.Now().Add(-cfg.UploadTTL)); err != nil {
		return nil, fmt.Errorf("server: upload folder: %w", err)
	} else if n > 0 {
		cfg.Log.Info("abandoned uploads deleted", "uploads", n, "older_than", cfg.UploadTTL)
	}
	s := &Server{cfg: cfg, log: cfg.Log, mux: http.NewServeMux(), uploads: up, reg: cfg.Registry}
	if as, ok := cfg.Store.(boundaries.AreaStore); ok {
		s.places = boundaries.NewLocator(as) // one index for the server's life, reloaded after imports
	}
	s.metrics = newMetrics(cfg.Registry)
	s.hub = NewHub(HubConfig{Buffer: cfg.EventBuffer, Ring: cfg.EventRing, Start: uint64(cfg.Now().UnixMicro()),
		OnClients: func(n int) { s.metrics.sseClients.Set(float64(n)) },
		OnDrop:    func() { s.metrics.sseDropped.Inc() }})
	s.pub = cfg.Publisher
	if s.pub == nil {
		s.pub = s.hub
	}
	s.feed = s.newFeedHandlers()
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.guard(rt))
	}
	s.handler = s.observe(s.mux)
	return s, nil
}

// Handler is the server's whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Hub is the server's SSE hub (a NATS subscriber feeds it in
// multi-process mode).
func (s *Server) Hub() *Hub { return s.hub }

// Publisher is where the server publishes its events.
func (s *Server) Publisher() Publisher { return s.pub }

// Routes is the route table.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Metrics are the server's Prometheus metrics, for the parts started
// beside it (queue depth, granule latency).
func (s *Server) Metrics() *Metrics { return &Metrics{m: s.metrics} }

// ServeConfig says where and how to listen.
type ServeConfig struct {
	Listener net.Listener
	// TLSCert and TLSKey are PEM files; both or neither.
	TLSCert, TLSKey string
	// Grace is how long in-flight requests may run after shutdown begins
	// (default 10 s); then connections are closed.
	Grace time.Duration
	// Started is called once the server accepts connections.
	Started func(url string)
}

// Serve serves until ctx ends, then shuts down gracefully: it stops
// accepting connections, ends every SSE stream (clients reconnect with
// Last-Event-ID to another process or after the restart), lets in-flight
// requests finish within Grace, then closes what is left.
func (s *Server) Serve(ctx context.Context, sc ServeConfig) error {
	if (sc.TLSCert == "") != (sc.TLSKey == "") {
		return errors.New("server: TLS needs both a certificate and a key")
	}
	if sc.Grace <= 0 {
		sc.Grace = 10 * time.Second
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	srv.RegisterOnShutdown(s.hub.Close)
	scheme := "http"
	ln := sc.Listener
	if sc.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(sc.TLSCert, sc.TLSKey)
		if err != nil {
			return fmt.Errorf("server: --tls-cert/--tls-key: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
		s.cfg.Secure = true // before the first request: session cookies are Secure
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// Abandoned uploads go every hour.
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.uploads.purge(s.cfg.Now().Add(-s.cfg.UploadTTL)); err != nil {
					s.log.Error("purging abandoned uploads", "err", err)
				}
			}
		}
	}()
	if sc.Started != nil {
		sc.Started(scheme + "://" + sc.Listener.Addr().String())
	}
	select {
	case err := <-errc:
		s.hub.Close()
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), sc.Grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("server: shutdown: %w", err)
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

package pipeline

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NATSConfig configures the embedded NATS server.
type NATSConfig struct {
	// StoreDir is where JetStream keeps its streams (DATA/nats).
	StoreDir string
	// Listen is the client address, host:port; port -1 picks a free one
	// (tests). Default 127.0.0.1:4222. Listening beyond the loopback
	// interface lets `atalaya worker` on other machines connect: put the
	// server behind a firewall or a VPN, since it has no authentication.
	Listen string
	// Name is the server's name (default "atalaya").
	Name string
	Log  *slog.Logger
}

// EmbeddedNATS is a NATS server with JetStream running in this process.
type EmbeddedNATS struct {
	srv *server.Server
}

// StartNATS starts an embedded NATS server with JetStream and waits until
// it takes connections.
func StartNATS(cfg NATSConfig) (*EmbeddedNATS, error) {
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: no store directory")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:4222"
	}
	if cfg.Name == "" {
		cfg.Name = "atalaya"
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: listen %q: want host:port", cfg.Listen)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return nil, fmt.Errorf("embedded nats: listen %q: port %q: want -1 (any free port) to 65535", cfg.Listen, portStr)
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		// fsync every write before it is acknowledged. Jepsen (2025,
		// "NATS 2.12.1") found that JetStream with its default lazy fsync
		// (every 2 minutes) lost messages it had acknowledged when nodes
		// lost power. The store stays the source of truth either way (the
		// reconciler republishes lost jobs), but an acknowledged job should
		// survive a power cut.
		SyncAlways: true,
		// The process owns signal handling (the command's context).
		NoSigs: true,
		NoLog:  true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if cfg.Log != nil {
		srv.SetLoggerV2(natsLogger{cfg.Log.With("component", "nats")}, false, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after 10 s (listen %s, store %s)", cfg.Listen, cfg.StoreDir)
	}
	return &EmbeddedNATS{srv: srv}, nil
}

// ClientURL is the URL clients connect to.
func (e *EmbeddedNATS) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits for it.
func (e *EmbeddedNATS) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// natsLogger sends the server's log to slog.
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) Noticef(f string, v ...any) { n.l.Debug(fmt.Sprintf(f, v...)) }
func (n natsLogger) Warnf(f string, v ...any)   { n.l.Warn(fmt.Sprintf(f, v...)) }
func (n natsLogger) Fatalf(f string, v ...any)  { n.l.Error(fmt.Sprintf(f, v...)) }
func (n natsLogger) Errorf(f string, v ...any)  { n.l.Error(fmt.Sprintf(f, v...)) }
func (n natsLogger) Debugf(f string, v ...any)  { n.l.Debug(fmt.Sprintf(f, v...)) }
func (n natsLogger) Tracef(f string, v ...any)  { n.l.Debug(fmt.Sprintf(f, v...)) }

// Connect connects to NATS at url (nats://host:port), retrying a lost
// connection for ever.
func Connect(url, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false))
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", url, err)
	}
	return nc, nil
}

// urlFile is where `atalaya serve` writes its embedded server's client URL,
// under the data directory, for `atalaya ingest` to find.
const urlFile = "nats.url"

// WriteURLFile records the embedded server's URL in dataDir.
func WriteURLFile(dataDir, url string) error {
	return os.WriteFile(filepath.Join(dataDir, urlFile), []byte(url+"\n"), 0o640)
}

// ReadURLFile returns the URL a running `atalaya serve` recorded in
// dataDir, or "" if there is none.
func ReadURLFile(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, urlFile))
	if err != nil {
		return ""
	}
	return string(trimSpace(b))
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

package feed

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// Webhook headers (docs/feeds.md).
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256>" over
	// "<t>.<body>" with the subscription's secret.
	HeaderSignature = "X-Atalaya-Signature"
	// HeaderAlertID is the alert's stable id: a receiver that has seen it
	// drops the delivery (at-least-once delivery repeats alerts).
	HeaderAlertID = "X-Atalaya-Alert-Id"
	// HeaderEvent is the alert's kind (site.released, ...).
	HeaderEvent = "X-Atalaya-Event"
)

// DefaultTolerance is how far a webhook's timestamp may be from the
// receiver's clock (5 minutes, the window Stripe's libraries default to):
// a captured request replayed later than that is refused.
const DefaultTolerance = 5 * time.Minute

// Errors of VerifyWebhook.
var (
	// ErrSignature: the header is missing or malformed, or no signature in
	// it matches the body.
	ErrSignature = errors.New("webhook: bad signature")
	// ErrTimestamp: the signed timestamp is outside the tolerance window
	// (a replay, or a clock far off).
	ErrTimestamp = errors.New("webhook: timestamp outside the tolerance window")
)

// Sign returns the signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a webhook delivery on the receiver's side: header
// is the X-Atalaya-Signature value, body the raw request body (before any
// JSON decoding), now the receiver's clock, tolerance the accepted clock
// difference (≤ 0: DefaultTolerance). Several v1 entries may be present
// (during a secret rotation); one matching is enough. It returns nil, or
// an error wrapping ErrSignature or ErrTimestamp.
//
// The signature proves the body came from a holder of the secret and was
// not altered; the tolerance bounds replays to the window; to drop repeats
// within it (and at-least-once redeliveries), keep the X-Atalaya-Alert-Id
// values seen for at least the tolerance.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return err
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: no v1 signature matches the body", ErrSignature)
	}
	sec, _ := strconv.ParseInt(ts, 10, 64) // parseSignature checked it
	d := now.Sub(time.Unix(sec, 0))
	if d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %v from now (tolerance %v)", ErrTimestamp,
			time.Unix(sec, 0).UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	return nil
}

// parseSignature splits "t=...,v1=...,v1=..." (other schemes ignored, so
// a later v2 can be added alongside).
func parseSignature(h string) (ts string, v1 []string, err error) {
	if h == "" {
		return "", nil, fmt.Errorf("%w: no %s header", ErrSignature, HeaderSignature)
	}
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: %q is not key=value", ErrSignature, part)
		}
		switch k {
		case "t":
			if ts != "" {
				return "", nil, fmt.Errorf("%w: two timestamps", ErrSignature)
			}
			if _, err := strconv.ParseInt(v, 10, 64); err != nil || v == "" || v[0] == '+' || v[0] == '-' {
				return "", nil, fmt.Errorf("%w: timestamp %q: want Unix seconds", ErrSignature, v)
			}
			ts = v
		case "v1":
			v1 = append(v1, v)
		}
	}
	if ts == "" {
		return "", nil, fmt.Errorf("%w: no t= timestamp", ErrSignature)
	}
	if len(v1) == 0 {
		return "", nil, fmt.Errorf("%w: no v1= signature", ErrSignature)
	}
	return ts, v1, nil
}

// WebhookSink posts alerts to one webhook subscription.
type WebhookSink struct {
	hook   store.Webhook
	client *http.Client
	now    func() time.Time
}

// NewWebhookSink makes the sink of a subscription; client nil means a
// client with a 10 s timeout and no redirects followed.
func NewWebhookSink(h store.Webhook, client *http.Client, now func() time.Time) *WebhookSink {
	if client == nil {
		client = &http.Client{
			Timeout: 10 * time.Second,
			// A redirect would re-send the body somewhere the agency did
			// not register: refuse (it becomes a 3xx failure).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if now == nil {
		now = time.Now
	}
	return &WebhookSink{hook: h, client: client, now: now}
}

// WebhookSinkName is the sink name of subscription id.
func WebhookSinkName(id string) string { return "webhook:" + id }

// Name implements Sink.
func (w *WebhookSink) Name() string { return WebhookSinkName(w.hook.ID) }

// Agency implements AgencySink.
func (w *WebhookSink) Agency() string { return w.hook.AgencyID }

// Deliver implements Sink: one signed POST of the alert's payload. 2xx is
// success; 408, 429 and 5xx (and network errors) are retried; any other
// status is permanent (a dead letter).
func (w *WebhookSink) Deliver(ctx context.Context, a store.Alert) error {
	body := []byte(a.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.hook.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w: %w", w.hook.ID, ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "atalaya-feed/1")
	req.Header.Set(HeaderAlertID, a.ID)
	req.Header.Set(HeaderEvent, a.Kind)
	req.Header.Set(HeaderSignature, Sign([]byte(w.hook.Secret), w.now(), body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.hook.ID, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("webhook %s: HTTP %s: %s", w.hook.ID, resp.Status, bytes.TrimSpace(msg))
	default:
		return fmt.Errorf("webhook %s: %w: HTTP %s: %s", w.hook.ID, ErrPermanent, resp.Status, bytes.TrimSpace(msg))
	}
}

// WebhookSinks returns a Options.MoreSinks function listing one sink per
// subscription in st.
func WebhookSinks(st store.Webhooks, client *http.Client, now func() time.Time) func(context.Context) ([]Sink, error) {
	return func(ctx context.Context) ([]Sink, error) {
		hooks, err := st.Webhooks(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]Sink, len(hooks))
		for i, h := range hooks {
			out[i] = NewWebhookSink(h, client, now)
		}
		return out, nil
	}
}

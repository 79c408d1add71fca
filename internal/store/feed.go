package store

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Delivery is an alert in one sink's delivery queue: the dispatcher copies
// each outbox alert into the queue of every sink that may see it.
type Delivery struct {
	Alert
	Sink      string
	Seq       int64  // insertion order, breaks ties of Created
	LastError string // why the last attempt failed
	// Dead is when the delivery became a dead letter (zero: it is live).
	Dead time.Time
}

// Deliveries are the per-sink delivery queues and their dead letters.
//
// Order: within one sink, the deliveries of one site are claimed one at a
// time, oldest (Created, then Seq) first; a site's next delivery is due only
// once the one before it is deleted or dead.
type Deliveries interface {
	// FanOut moves the outbox alert id into the queues of sinks in one
	// transaction: it deletes the outbox row and inserts one delivery per
	// sink (none if sinks is empty). ErrNotFound if the alert is no longer
	// in the outbox (another dispatcher moved it): nothing is inserted.
	FanOut(ctx context.Context, alertID string, sinks []string) error
	// FanOutDue moves up to limit due outbox alerts (oldest first) into
	// the queues of the sinks route names for each, in one transaction,
	// and returns them with their sinks. route may also rewrite the
	// payload the deliveries carry (it returns the payload to store). It
	// runs inside the transaction: keep it quick. Concurrent callers
	// (PostgreSQL) move disjoint alerts.
	FanOutDue(ctx context.Context, limit int, route func(Alert) (payload string, sinks []string)) ([]Alert, [][]string, error)
	// ClaimDeliveries returns up to limit of sink's due deliveries, each the
	// oldest live one of its site, oldest first; it counts the attempt and
	// pushes the next attempt back by lease so that nobody else claims
	// them meanwhile.
	ClaimDeliveries(ctx context.Context, sink string, limit int, lease time.Duration) ([]Delivery, error)
	// DeleteDelivery removes a delivered alert from sink's queue (after a
	// successful send); ErrNotFound if it is not there.
	DeleteDelivery(ctx context.Context, sink, alertID string) error
	// DeleteDeliveries removes delivered alerts from sink's queue in one
	// transaction (ids no longer there are skipped) and returns how many
	// live deliveries the sink still has.
	DeleteDeliveries(ctx context.Context, sink string, alertIDs []string) (int, error)
	// RetryDelivery records a failed attempt and when to try again.
	RetryDelivery(ctx context.Context, sink, alertID, reason string, next time.Time) error
	// KillDelivery makes a delivery a dead letter: it is kept, not retried,
	// and no longer holds back its site's later deliveries.
	KillDelivery(ctx context.Context, sink, alertID, reason string) error
	// DeadLetters lists dead letters, oldest first, of one sink or (sink
	// "") of all.
	DeadLetters(ctx context.Context, sink string, limit int) ([]Delivery, error)
	// ReplayDeadLetters makes dead letters live again with their attempts
	// reset, due now: the one of sink with alertID, or (alertID "") all of
	// sink, or (sink "" too) all. It returns how many.
	ReplayDeadLetters(ctx context.Context, sink, alertID string) (int, error)
	// PendingDeliveries counts the live deliveries of sink (all sinks if "").
	PendingDeliveries(ctx context.Context, sink string) (int, error)
	// DropDeliveries deletes every delivery of sink, live or dead (the sink
	// is gone); it returns how many.
	DropDeliveries(ctx context.Context, sink string) (int, error)
}

// Webhook is an agency's subscription to signed HTTP deliveries.
type Webhook struct {
	ID       string
	AgencyID string
	URL      string // http or https
	// Secret is the HMAC-SHA256 key shared with the receiver; the store
	// keeps it as given (the sender needs it to sign).
	Secret  string
	Created time.Time
}

// Webhooks are the webhook subscriptions.
type Webhooks interface {
	// PutWebhook stores a new subscription (an id is made if empty) and
	// returns it; ErrInvalid names a bad field, ErrConflict a taken id.
	PutWebhook(ctx context.Context, w Webhook) (Webhook, error)
	// Webhooks lists the subscriptions, by id.
	Webhooks(ctx context.Context) ([]Webhook, error)
	// DeleteWebhook removes a subscription; ErrNotFound if there is none.
	DeleteWebhook(ctx context.Context, id string) error
}

var (
	_ Deliveries = (*DB)(nil)
	_ Webhooks   = (*DB)(nil)
)

const deliveryCols = `alert_id, site_id, kind, payload, created_us, attempts, next_attempt_us, sink, seq, last_error, dead_us`

func scanDelivery(s interface{ Scan(...any) error }) (Delivery, error) {
	var (
		d                   Delivery
		created, next, dead int64
	)
	err := s.Scan(&d.ID, &d.SiteID, &d.Kind, &d.Payload, &created, &d.Attempts, &next, &d.Sink, &d.Seq, &d.LastError, &dead)
	d.Created, d.NextAttempt, d.Dead = fromUS(created), fromUS(next), fromUS(dead)
	return d, err
}

func (db *DB) deliveries(ctx context.Context, q querier, what, query string, args ...any) ([]Delivery, error) {
	rows, err := q.QueryContext(ctx, db.d.sql(query), args...)
	if err != nil {
		return nil, db.d.wrap(err, "%s", what)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, db.d.wrap(err, "%s", what)
		}
		out = append(out, d)
	}
	return out, db.d.wrap(rows.Err(), "%s", what)
}

// FanOut implements Deliveries.
func (db *DB) FanOut(ctx context.Context, alertID string, sinks []string) error {
	for _, s := range sinks {
		if s == "" {
			return fmt.Errorf("%w: fan out alert %s: empty sink name", ErrInvalid, alertID)
		}
	}
	return db.inTx(ctx, func(t *tx) error {
		a, err := scanAlert(t.queryRow(ctx, `SELECT `+alertCols+` FROM outbox WHERE id = ?`, alertID))
		if err != nil {
			return db.d.wrap(err, "fan out alert %s", alertID)
		}
		// Delete first: of two dispatchers fanning out the same alert,
		// the second waits here (PostgreSQL row lock) and then deletes
		// nothing, so it inserts nothing.
		res, err := t.exec(ctx, `DELETE FROM outbox WHERE id = ?`, alertID)
		if err != nil {
			return db.d.wrap(err, "fan out alert %s", alertID)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return db.d.wrap(err, "fan out alert %s", alertID)
			}
			return fmt.Errorf("fan out alert %s: %w", alertID, ErrNotFound)
		}
		now := us(db.now())
		for _, s := range sinks {
			if _, err := t.exec(ctx, `INSERT INTO feed_deliveries (sink, alert_id, site_id, kind, payload, created_us, attempts, next_attempt_us)
				VALUES (?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (sink, alert_id) DO NOTHING`,
				s, a.ID, a.SiteID, a.Kind, a.Payload, us(a.Created), now); err != nil {
				return db.d.wrap(err, "fan out alert %s to %s", alertID, s)
			}
		}
		return nil
	})
}

// FanOutDue implements Deliveries.
func (db *DB) FanOutDue(ctx context.Context, limit int, route func(Alert) (string, []string)) ([]Alert, [][]string, error) {
	if limit <= 0 {
		return nil, nil, nil
	}
	var (
		alerts []Alert
		sinks  [][]string
	)
	err := db.inTx(ctx, func(t *tx) error {
		alerts, sinks = alerts[:0], sinks[:0]
		now := us(db.now())
		rows, err := t.query(ctx, `SELECT `+alertCols+` FROM outbox WHERE next_attempt_us <= ?
			ORDER BY next_attempt_us, id LIMIT ? {skip_locked}`, now, limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			a, err := scanAlert(rows)
			if err != nil {
				rows.Close()
				return err
			}
			alerts = append(alerts, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, a := range alerts {
			payload, names := route(a)
			for _, s := range names {
				if s == "" {
					return fmt.Errorf("%w: fan out alert %s: empty sink name", ErrInvalid, a.ID)
				}
				if _, err := t.exec(ctx, `INSERT INTO feed_deliveries (sink, alert_id, site_id, kind, payload, created_us, attempts, next_attempt_us)
					VALUES (?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (sink, alert_id) DO NOTHING`,
					s, a.ID, a.SiteID, a.Kind, payload, us(a.Created), now); err != nil {
					return err
				}
			}
			if _, err := t.exec(ctx, `DELETE FROM outbox WHERE id = ?`, a.ID); err != nil {
				return err
			}
			sinks = append(sinks, names)
		}
		return nil
	})
	if err != nil {
		return nil, nil, db.d.wrap(err, "fan out the outbox")
	}
	return alerts, sinks, nil
}

// ClaimDeliveries implements Deliveries.
func (db *DB) ClaimDeliveries(ctx context.Context, sink string, limit int, lease time.Duration) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, fmt.Errorf("%w: claim deliveries of %s: lease %v: want > 0", ErrInvalid, sink, lease)
	}
	now := db.now()
	var out []Delivery
	err := db.inTx(ctx, func(t *tx) error {
		var err error
		// A site's head: its oldest live delivery. Only heads are due, so
		// one delivery per site is in flight. PostgreSQL: SKIP LOCKED
		// lets concurrent dispatchers claim disjoint rows.
		out, err = db.deliveries(ctx, t.q, "claim deliveries of "+sink, `UPDATE feed_deliveries
			SET attempts = attempts + 1, next_attempt_us = ?
			WHERE seq IN (SELECT d.seq FROM feed_deliveries d
				WHERE d.sink = ? AND d.dead_us = 0 AND d.next_attempt_us <= ?
				AND NOT EXISTS (SELECT 1 FROM feed_deliveries e
					WHERE e.sink = d.sink AND e.site_id = d.site_id AND e.dead_us = 0
					AND (e.created_us < d.created_us OR (e.created_us = d.created_us AND e.seq < d.seq)))
				ORDER BY d.created_us, d.seq LIMIT ? {skip_locked})
			RETURNING `+deliveryCols, us(now.Add(lease)), sink, us(now), limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Seq < out[j].Seq
	})
	return out, nil
}

// changeDelivery runs one statement on one delivery and wants it to exist.
func (db *DB) changeDelivery(ctx context.Context, what, query string, args ...any) error {
	return db.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, query, args...)
		if err != nil {
			return db.d.wrap(err, "%s", what)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return db.d.wrap(err, "%s", what)
			}
			return fmt.Errorf("%s: %w", what, ErrNotFound)
		}
		return nil
	})
}

// DeleteDelivery implements Deliveries.
func (db *DB) DeleteDelivery(ctx context.Context, sink, alertID string) error {
	return db.changeDelivery(ctx, fmt.Sprintf("delete delivery of alert %s to %s", alertID, sink),
		`DELETE FROM feed_deliveries WHERE sink = ? AND alert_id = ?`, sink, alertID)
}

// DeleteDeliveries implements Deliveries.
func (db *DB) DeleteDeliveries(ctx context.Context, sink string, alertIDs []string) (int, error) {
	var left int
	err := db.inTx(ctx, func(t *tx) error {
		for _, id := range alertIDs {
			if _, err := t.exec(ctx, `DELETE FROM feed_deliveries WHERE sink = ? AND alert_id = ?`, sink, id); err != nil {
				return db.d.wrap(err, "delete delivery of alert %s to %s", id, sink)
			}
		}
		return db.d.wrap(t.queryRow(ctx, `SELECT COUNT(*) FROM feed_deliveries WHERE sink = ? AND dead_us = 0`, sink).Scan(&left),
			"count deliveries of %s", sink)
	})
	return left, err
}

// RetryDelivery implements Deliveries.
func (db *DB) RetryDelivery(ctx context.Context, sink, alertID, reason string, next time.Time) error {
	return db.changeDelivery(ctx, fmt.Sprintf("retry delivery of alert %s to %s", alertID, sink),
		`UPDATE feed_deliveries SET last_error = ?, next_attempt_us = ? WHERE sink = ? AND alert_id = ?`,
		reason, us(next), sink, alertID)
}

// KillDelivery implements Deliveries.
func (db *DB) KillDelivery(ctx context.Context, sink, alertID, reason string) error {
	return db.changeDelivery(ctx, fmt.Sprintf("dead-letter alert %s to %s", alertID, sink),
		`UPDATE feed_deliveries SET last_error = ?, dead_us = ? WHERE sink = ? AND alert_id = ?`,
		reason, us(db.now()), sink, alertID)
}

// DeadLetters implements Deliveries.
func (db *DB) DeadLetters(ctx context.Context, sink string, limit int) ([]Delivery, error) {
	q := `SELECT ` + deliveryCols + ` FROM feed_deliveries WHERE dead_us <> 0`
	args := []any{}
	if sink != "" {
		q += ` AND sink = ?`
		args = append(args, sink)
	}
	q += ` ORDER BY dead_us, seq LIMIT ?`
	args = append(args, limitOf(limit))
	return db.deliveries(ctx, db.db, "dead letters", q, args...)
}

// ReplayDeadLetters implements Deliveries.
func (db *DB) ReplayDeadLetters(ctx context.Context, sink, alertID string) (int, error) {
	if sink == "" && alertID != "" {
		return 0, fmt.Errorf("%w: replay alert %s: name its sink too", ErrInvalid, alertID)
	}
	q := `UPDATE feed_deliveries SET dead_us = 0, attempts = 0, next_attempt_us = ? WHERE dead_us <> 0`
	args := []any{us(db.now())}
	if sink != "" {
		q += ` AND sink = ?`
		args = append(args, sink)
	}
	if alertID != "" {
		q += ` AND alert_id = ?`
		args = append(args, alertID)
	}
	var n int64
	err := db.inTx(ctx, func(t *tx) error {
		res, err := t.q.ExecContext(ctx, db.d.expand(q), args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, db.d.wrap(err, "replay dead letters")
	}
	if n == 0 && alertID != "" {
		return 0, fmt.Errorf("replay alert %s to %s: no such dead letter: %w", alertID, sink, ErrNotFound)
	}
	return int(n), nil
}

// PendingDeliveries implements Deliveries.
func (db *DB) PendingDeliveries(ctx context.Context, sink string) (int, error) {
	q := `SELECT COUNT(*) FROM feed_deliveries WHERE dead_us = 0`
	args := []any{}
	if sink != "" {
		q += ` AND sink = ?`
		args = append(args, sink)
	}
	var n int
	err := db.db.QueryRowContext(ctx, db.d.expand(q), args...).Scan(&n)
	return n, db.d.wrap(err, "pending deliveries")
}

// DropDeliveries implements Deliveries.
func (db *DB) DropDeliveries(ctx context.Context, sink string) (int, error) {
	var n int64
	err := db.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `DELETE FROM feed_deliveries WHERE sink = ?`, sink)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), db.d.wrap(err, "drop deliveries of %s", sink)
}

// PutWebhook implements Webhooks.
func (db *DB) PutWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	if strings.TrimSpace(w.AgencyID) == "" {
		return Webhook{}, fmt.Errorf("%w: webhook agency is empty", ErrInvalid)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Webhook{}, fmt.Errorf("%w: webhook url %q: want an absolute http:// or https:// URL", ErrInvalid, w.URL)
	}
	// 16 bytes of key at least: RFC 2104 §3 recommends keys no shorter
	// than the hash output; 16 is the floor we enforce, 32 is what
	// `atalaya feed webhook add` generates.
	if len(w.Secret) < 16 {
		return Webhook{}, fmt.Errorf("%w: webhook secret is %d bytes: want at least 16", ErrInvalid, len(w.Secret))
	}
	now := db.now()
	if w.ID == "" {
		w.ID = newID(now)
	}
	w.Created = fromUS(us(now))
	err = db.inTx(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO webhook_subscriptions (id, agency_id, url, secret, created_us) VALUES (?, ?, ?, ?, ?)`,
			w.ID, w.AgencyID, w.URL, w.Secret, us(now))
		return err
	})
	if err != nil {
		return Webhook{}, db.d.wrap(err, "put webhook %s", w.ID)
	}
	return w, nil
}

// Webhooks implements Webhooks.
func (db *DB) Webhooks(ctx context.Context) ([]Webhook, error) {
	rows, err := db.query(ctx, `SELECT id, agency_id, url, secret, created_us FROM webhook_subscriptions ORDER BY id`)
	if err != nil {
		return nil, db.d.wrap(err, "webhooks")
	}
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		var (
			w       Webhook
			created int64
		)
		if err := rows.Scan(&w.ID, &w.AgencyID, &w.URL, &w.Secret, &created); err != nil {
			return nil, db.d.wrap(err, "webhooks")
		}
		w.Created = fromUS(created)
		out = append(out, w)
	}
	return out, db.d.wrap(rows.Err(), "webhooks")
}

// DeleteWebhook implements Webhooks.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	return db.changeDelivery(ctx, "delete webhook "+id, `DELETE FROM webhook_subscriptions WHERE id = ?`, id)
}

package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Tile returns one evidence tile.
func (o *ops) Tile(ctx context.Context, gas, key string) (Tile, error) {
	t := Tile{Gas: gas, Key: key}
	var updated int64
	err := o.queryRow(ctx, `SELECT data, version, updated_us FROM evidence_tiles WHERE gas = ? AND tile_key = ?`,
		gas, key).Scan(&t.Data, &t.Version, &updated)
	t.Updated = fromUS(updated)
	if err != nil {
		return Tile{}, o.d.wrap(err, "evidence tile %s %s", gas, key)
	}
	return t, nil
}

// TileKeys returns the keys of a gas's stored tiles, sorted.
func (o *ops) TileKeys(ctx context.Context, gas string) ([]string, error) {
	rows, err := o.query(ctx, `SELECT tile_key FROM evidence_tiles WHERE gas = ? ORDER BY tile_key`, gas)
	if err != nil {
		return nil, o.d.wrap(err, "evidence tile keys %s", gas)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, o.d.wrap(err, "evidence tile keys %s", gas)
		}
		keys = append(keys, k)
	}
	return keys, o.d.wrap(rows.Err(), "evidence tile keys %s", gas)
}

// PutTile implements EvidenceWriter.
func (o *ops) PutTile(ctx context.Context, t Tile) (Tile, error) {
	if t.Gas == "" || t.Key == "" {
		return Tile{}, fmt.Errorf("%w: evidence tile gas %q key %q: want both", ErrInvalid, t.Gas, t.Key)
	}
	if t.Data == nil {
		t.Data = []byte{}
	}
	now := us(o.now())
	var (
		res sql.Result
		err error
	)
	if t.Version == 0 {
		// ON CONFLICT DO NOTHING rather than a unique violation, which
		// would abort a PostgreSQL transaction.
		res, err = o.exec(ctx, `INSERT INTO evidence_tiles (gas, tile_key, data, version, updated_us)
			VALUES (?, ?, ?, 1, ?) ON CONFLICT (gas, tile_key) DO NOTHING`, t.Gas, t.Key, t.Data, now)
	} else {
		res, err = o.exec(ctx, `UPDATE evidence_tiles SET data = ?, version = version + 1, updated_us = ?
			WHERE gas = ? AND tile_key = ? AND version = ?`, t.Data, now, t.Gas, t.Key, t.Version)
	}
	if err != nil {
		return Tile{}, o.d.wrap(err, "put evidence tile %s %s", t.Gas, t.Key)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Tile{}, o.d.wrap(err, "put evidence tile %s %s", t.Gas, t.Key)
	}
	if n == 0 {
		cur, err := o.Tile(ctx, t.Gas, t.Key)
		if err != nil {
			return Tile{}, fmt.Errorf("put: %w", err)
		}
		return Tile{}, fmt.Errorf("put evidence tile %s %s: %w: version %d, stored %d", t.Gas, t.Key, ErrConflict, t.Version, cur.Version)
	}
	t.Version++
	t.Updated = fromUS(now)
	return t, nil
}

const decisionCols = `id, site_id, actor, at_us, action, reason, payload`

// Decisions returns a site's decisions, oldest first.
func (o *ops) Decisions(ctx context.Context, siteID string) ([]Decision, error) {
	what := "decisions of site " + siteID
	rows, err := o.query(ctx, `SELECT `+decisionCols+` FROM decisions WHERE site_id = ? ORDER BY at_us, id`, siteID)
	if err != nil {
		return nil, o.d.wrap(err, "%s", what)
	}
	defer rows.Close()
	var out []Decision
	for rows.Next() {
		var (
			d      Decision
			at     int64
			action string
		)
		if err := rows.Scan(&d.ID, &d.SiteID, &d.Actor, &at, &action, &d.Reason, &d.Payload); err != nil {
			return nil, o.d.wrap(err, "%s", what)
		}
		d.At, d.Action = fromUS(at), DecisionAction(action)
		out = append(out, d)
	}
	return out, o.d.wrap(rows.Err(), "%s", what)
}

// AppendDecision implements DecisionWriter.
func (o *ops) AppendDecision(ctx context.Context, d Decision) (Decision, error) {
	switch d.Action {
	case ActionConfirm, ActionDismiss, ActionRevisit, ActionRelease, ActionGroundTruth:
	default:
		return Decision{}, fmt.Errorf("%w: decision action %q: want confirm, dismiss, revisit, release or ground-truth", ErrInvalid, d.Action)
	}
	if d.Actor == "" {
		return Decision{}, fmt.Errorf("%w: decision actor is empty", ErrInvalid)
	}
	now := o.now()
	if d.ID == "" {
		d.ID = newID(now)
	}
	if d.At.IsZero() {
		d.At = now
	}
	d.At = fromUS(us(d.At))
	_, err := o.exec(ctx, `INSERT INTO decisions (`+decisionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.SiteID, d.Actor, us(d.At), string(d.Action), d.Reason, d.Payload)
	if err != nil {
		return Decision{}, o.d.wrap(err, "append decision for site %s", d.SiteID)
	}
	return d, nil
}

const alertCols = `id, site_id, kind, payload, created_us, attempts, next_attempt_us`

func scanAlert(s interface{ Scan(...any) error }) (Alert, error) {
	var (
		a             Alert
		site          sql.NullString
		created, next int64
	)
	err := s.Scan(&a.ID, &site, &a.Kind, &a.Payload, &created, &a.Attempts, &next)
	a.SiteID, a.Created, a.NextAttempt = site.String, fromUS(created), fromUS(next)
	return a, err
}

// EnqueueAlert implements OutboxWriter.
func (o *ops) EnqueueAlert(ctx context.Context, a Alert) (Alert, error) {
	if a.Kind == "" {
		return Alert{}, fmt.Errorf("%w: alert kind is empty", ErrInvalid)
	}
	now := o.now()
	if a.ID == "" {
		a.ID = newID(now)
	}
	a.Created, a.NextAttempt, a.Attempts = fromUS(us(now)), fromUS(us(now)), 0
	site := sql.NullString{String: a.SiteID, Valid: a.SiteID != ""}
	_, err := o.exec(ctx, `INSERT INTO outbox (`+alertCols+`) VALUES (?, ?, ?, ?, ?, 0, ?)`,
		a.ID, site, a.Kind, a.Payload, us(now), us(now))
	if err != nil {
		return Alert{}, o.d.wrap(err, "enqueue alert %s", a.ID)
	}
	return a, nil
}

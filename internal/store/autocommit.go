package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The DB's writes each run in a transaction of their own.

// PutGranule implements GranuleWriter.
func (db *DB) PutGranule(ctx context.Context, g Granule) (rec Granule, created bool, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		rec, created, err = t.PutGranule(ctx, g)
		return err
	})
	return rec, created, err
}

// StartGranule implements GranuleWriter.
func (db *DB) StartGranule(ctx context.Context, id string) (g Granule, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		g, err = t.StartGranule(ctx, id)
		return err
	})
	return g, err
}

// FailGranule implements GranuleWriter.
func (db *DB) FailGranule(ctx context.Context, id, reason string) error {
	return db.inTx(ctx, func(t *tx) error { return t.FailGranule(ctx, id, reason) })
}

// CompleteGranule implements GranuleWriter.
func (db *DB) CompleteGranule(ctx context.Context, granuleID string, ds []Detection) (out []Detection, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		out, err = t.CompleteGranule(ctx, granuleID, ds)
		return err
	})
	return out, err
}

// CreateSite implements SiteWriter.
func (db *DB) CreateSite(ctx context.Context, s Site) (out Site, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		out, err = t.CreateSite(ctx, s)
		return err
	})
	return out, err
}

// UpdateSite implements SiteWriter.
func (db *DB) UpdateSite(ctx context.Context, s Site) (out Site, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		out, err = t.UpdateSite(ctx, s)
		return err
	})
	return out, err
}

// LinkDetections implements SiteWriter.
func (db *DB) LinkDetections(ctx context.Context, siteID string, detectionIDs ...string) error {
	return db.inTx(ctx, func(t *tx) error { return t.LinkDetections(ctx, siteID, detectionIDs...) })
}

// PutTile implements EvidenceWriter.
func (db *DB) PutTile(ctx context.Context, tl Tile) (out Tile, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		out, err = t.PutTile(ctx, tl)
		return err
	})
	return out, err
}

// AppendDecision implements DecisionWriter.
func (db *DB) AppendDecision(ctx context.Context, d Decision) (out Decision, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		out, err = t.AppendDecision(ctx, d)
		return err
	})
	return out, err
}

// EnqueueAlert implements OutboxWriter.
func (db *DB) EnqueueAlert(ctx context.Context, a Alert) (out Alert, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		out, err = t.EnqueueAlert(ctx, a)
		return err
	})
	return out, err
}

// ClaimOutbox implements Outbox.
func (db *DB) ClaimOutbox(ctx context.Context, limit int, lease time.Duration) ([]Alert, error) {
	if limit <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, fmt.Errorf("%w: claim outbox: lease %v: want > 0", ErrInvalid, lease)
	}
	now := us(db.now())
	var out []Alert
	err := db.inTx(ctx, func(t *tx) error {
		// PostgreSQL: SKIP LOCKED lets concurrent dispatchers claim
		// disjoint rows; SQLite has one writer at a time.
		rows, err := t.query(ctx, `UPDATE outbox SET attempts = attempts + 1,
			next_attempt_us = CAST(? AS BIGINT) + CAST(? AS BIGINT) * (CASE WHEN attempts >= 6 THEN 64 ELSE (1 << attempts) END)
			WHERE id IN (SELECT id FROM outbox WHERE next_attempt_us <= ? ORDER BY next_attempt_us, id LIMIT ? {skip_locked})
			RETURNING `+alertCols, now, lease.Microseconds(), now, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAlert(rows)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.d.wrap(err, "claim outbox")
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// DeleteOutbox implements Outbox.
func (db *DB) DeleteOutbox(ctx context.Context, id string) error {
	return db.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `DELETE FROM outbox WHERE id = ?`, id)
		if err != nil {
			return db.d.wrap(err, "delete outbox %s", id)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return db.d.wrap(err, "delete outbox %s", id)
			}
			return fmt.Errorf("delete outbox %s: %w", id, ErrNotFound)
		}
		return nil
	})
}

// purgeBatch bounds the ids per DELETE (SQLite allows 32766 parameters).
const purgeBatch = 500

// PurgeGranules implements Store.
func (db *DB) PurgeGranules(ctx context.Context, olderThan time.Duration, populatedOnly bool) ([]Purged, error) {
	return db.PurgeGranulesWith(ctx, olderThan, populatedOnly, nil)
}

// PurgeGranulesWith is PurgeGranules with within, if not nil, called in
// the purge's transaction with what it deletes (when it deletes anything):
// to record the purge in the audit log so that the entry exists if and only
// if the purge does. An error from within undoes the purge.
func (db *DB) PurgeGranulesWith(ctx context.Context, olderThan time.Duration, populatedOnly bool, within func(Tx, []Purged) error) ([]Purged, error) {
	if olderThan <= 0 {
		olderThan = DefaultRetention
	}
	cutoff := us(db.now().Add(-olderThan))
	var out []Purged
	err := db.inTx(ctx, func(t *tx) error {
		out = out[:0]
		q := `SELECT g.id, g.uri FROM granules g
			WHERE g.created_us < ? AND g.status IN ('done', 'failed')`
		if populatedOnly {
			q += ` AND g.populated`
		}
		q += ` AND NOT EXISTS (SELECT 1 FROM detections d JOIN site_detections sd ON sd.detection_id = d.id
				WHERE d.granule_id = g.id)
			ORDER BY g.created_us, g.id`
		rows, err := t.query(ctx, q, cutoff)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p Purged
			if err := rows.Scan(&p.ID, &p.URI); err != nil {
				rows.Close()
				return err
			}
			out = append(out, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := 0; i < len(out); i += purgeBatch {
			batch := out[i:min(i+purgeBatch, len(out))]
			args := make([]any, len(batch))
			for j, p := range batch {
				args[j] = p.ID
			}
			in := "(" + strings.Repeat("?, ", len(batch)-1) + "?)"
			// Unprepared (t.q): the text varies with the batch size.
			if _, err := t.q.ExecContext(ctx, t.d.expand(`DELETE FROM detections WHERE granule_id IN `+in), args...); err != nil {
				return err
			}
			if _, err := t.q.ExecContext(ctx, t.d.expand(`DELETE FROM granules WHERE id IN `+in), args...); err != nil {
				return err
			}
		}
		if within != nil && len(out) > 0 {
			return within(t, out)
		}
		return nil
	})
	if err != nil {
		return nil, db.d.wrap(err, "purge granules")
	}
	return out, nil
}

package store

import (
	"context"
	"fmt"
)

// migration is one schema version. common runs on both databases (after
// macro expansion: {blob}, {serial}); then the dialect's own part. pre runs
// before common (PostgreSQL: the PostGIS extension).
type migration struct {
	version  int
	name     string
	pre      map[string]string
	common   string
	dialects map[string]string
}

// migrations are applied in order, each in its own transaction, and
// recorded in schema_migrations. Never edit one that has shipped: add a new
// version.
var migrations = []migration{
	{
		version: 1,
		name:    "granules, detections, sites, evidence, decisions, outbox",
		pre: map[string]string{
			"postgres": `CREATE EXTENSION IF NOT EXISTS postgis`,
		},
		common: `
CREATE TABLE granules (
	id                TEXT PRIMARY KEY,
	kind              TEXT NOT NULL CHECK (kind IN ('cube', 'trace', 'flightlog')),
	sha256            TEXT NOT NULL UNIQUE,
	name              TEXT NOT NULL DEFAULT '',
	size              BIGINT NOT NULL CHECK (size >= 0),
	uri               TEXT NOT NULL,
	min_lat           DOUBLE PRECISION NOT NULL,
	min_lon           DOUBLE PRECISION NOT NULL,
	max_lat           DOUBLE PRECISION NOT NULL,
	max_lon           DOUBLE PRECISION NOT NULL,
	footprint_geojson TEXT NOT NULL DEFAULT '',
	acquired_us       BIGINT NOT NULL,
	status            TEXT NOT NULL CHECK (status IN ('recorded', 'processing', 'done', 'failed')),
	attempts          INTEGER NOT NULL DEFAULT 0,
	error             TEXT NOT NULL DEFAULT '',
	populated         BOOLEAN NOT NULL DEFAULT FALSE,
	created_us        BIGINT NOT NULL,
	updated_us        BIGINT NOT NULL
);
CREATE INDEX granules_status_updated ON granules (status, updated_us);
CREATE INDEX granules_created ON granules (created_us);

CREATE TABLE detections (
	id              TEXT PRIMARY KEY,
	granule_id      TEXT NOT NULL REFERENCES granules (id),
	gas             TEXT NOT NULL,
	method          TEXT NOT NULL,
	score           DOUBLE PRECISION NOT NULL,
	p_value         DOUBLE PRECISION NOT NULL,
	lat             DOUBLE PRECISION NOT NULL,
	lon             DOUBLE PRECISION NOT NULL,
	uncertainty_m   DOUBLE PRECISION NOT NULL,
	peak_ppmm       DOUBLE PRECISION NOT NULL,
	mean_ppmm       DOUBLE PRECISION NOT NULL,
	sigma_ppmm      DOUBLE PRECISION NOT NULL,
	ime_kg          DOUBLE PRECISION NOT NULL,
	rate_kgh        DOUBLE PRECISION NOT NULL,
	rate_sigma_kgh  DOUBLE PRECISION NOT NULL,
	outline_geojson TEXT NOT NULL DEFAULT '',
	properties      TEXT NOT NULL DEFAULT '',
	created_us      BIGINT NOT NULL
);
CREATE INDEX detections_granule ON detections (granule_id);

CREATE TABLE sites (
	rid             {serial},
	id              TEXT NOT NULL UNIQUE,
	lat             DOUBLE PRECISION NOT NULL CHECK (lat BETWEEN -90 AND 90),
	lon             DOUBLE PRECISION NOT NULL CHECK (lon BETWEEN -180 AND 180),
	uncertainty_m   DOUBLE PRECISION NOT NULL,
	gas_profile     TEXT NOT NULL DEFAULT '',
	first_seen_us   BIGINT NOT NULL,
	last_seen_us    BIGINT NOT NULL,
	passes_seen     INTEGER NOT NULL,
	passes_surveyed INTEGER NOT NULL,
	evidence        DOUBLE PRECISION NOT NULL,
	probability     DOUBLE PRECISION NOT NULL,
	type_guess      TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL CHECK (status IN ('candidate', 'confirmed', 'dismissed', 'revisit', 'released')),
	version         BIGINT NOT NULL,
	created_us      BIGINT NOT NULL,
	updated_us      BIGINT NOT NULL
);
CREATE INDEX sites_status ON sites (status);

CREATE TABLE site_detections (
	site_id      TEXT NOT NULL REFERENCES sites (id),
	detection_id TEXT NOT NULL REFERENCES detections (id),
	linked_us    BIGINT NOT NULL,
	PRIMARY KEY (site_id, detection_id)
);
CREATE INDEX site_detections_detection ON site_detections (detection_id);

CREATE TABLE evidence_tiles (
	gas        TEXT NOT NULL,
	tile_key   TEXT NOT NULL,
	data       {blob} NOT NULL,
	version    BIGINT NOT NULL,
	updated_us BIGINT NOT NULL,
	PRIMARY KEY (gas, tile_key)
);

CREATE TABLE decisions (
	id      TEXT PRIMARY KEY,
	site_id TEXT NOT NULL REFERENCES sites (id),
	actor   TEXT NOT NULL,
	at_us   BIGINT NOT NULL,
	action  TEXT NOT NULL CHECK (action IN ('confirm', 'dismiss', 'revisit', 'release', 'ground-truth')),
	reason  TEXT NOT NULL DEFAULT '',
	payload TEXT NOT NULL DEFAULT ''
);
CREATE INDEX decisions_site ON decisions (site_id, at_us);

CREATE TABLE outbox (
	id              TEXT PRIMARY KEY,
	site_id         TEXT REFERENCES sites (id),
	kind            TEXT NOT NULL,
	payload         TEXT NOT NULL,
	created_us      BIGINT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_us BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_us);
`,
		dialects: map[string]string{
			// SQLite: an R*Tree over site positions, kept by triggers (the
			// rtree module stores 32-bit floats rounded outwards, so
			// queries filter again on the exact columns).
			"sqlite": `
CREATE VIRTUAL TABLE sites_rtree USING rtree (id, min_lat, max_lat, min_lon, max_lon);
CREATE TRIGGER sites_rtree_insert AFTER INSERT ON sites BEGIN
	INSERT INTO sites_rtree (id, min_lat, max_lat, min_lon, max_lon) VALUES (new.rid, new.lat, new.lat, new.lon, new.lon);
END;
CREATE TRIGGER sites_rtree_update AFTER UPDATE OF lat, lon ON sites BEGIN
	UPDATE sites_rtree SET min_lat = new.lat, max_lat = new.lat, min_lon = new.lon, max_lon = new.lon WHERE id = new.rid;
END;
CREATE TRIGGER sites_rtree_delete AFTER DELETE ON sites BEGIN
	DELETE FROM sites_rtree WHERE id = old.rid;
END;
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions BEGIN
	SELECT RAISE(ABORT, 'decisions are append-only');
END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions BEGIN
	SELECT RAISE(ABORT, 'decisions are append-only');
END;
`,
			// PostgreSQL: PostGIS columns generated from lat/lon (so the
			// common SQL never writes them) with GiST indexes.
			"postgres": `
ALTER TABLE sites ADD COLUMN geom geometry(Point, 4326)
	GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED;
ALTER TABLE sites ADD COLUMN geog geography(Point, 4326)
	GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography) STORED;
CREATE INDEX sites_geom ON sites USING GIST (geom);
CREATE INDEX sites_geog ON sites USING GIST (geog);
ALTER TABLE granules ADD COLUMN footprint geometry(Geometry, 4326)
	GENERATED ALWAYS AS (ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, 4326)) STORED;
CREATE INDEX granules_footprint ON granules USING GIST (footprint);
CREATE FUNCTION decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'decisions are append-only';
END
$$;
CREATE TRIGGER decisions_no_change BEFORE UPDATE OR DELETE ON decisions
	FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
	FOR EACH STATEMENT EXECUTE FUNCTION decisions_append_only();
`,
		},
	},
	{
		version: 2,
		name:    "agencies, users, api tokens, sessions, site releases, audit log",
		common: `
CREATE TABLE agencies (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	country    TEXT NOT NULL CHECK (length(country) = 3),
	lang       TEXT NOT NULL CHECK (lang IN ('es', 'en', 'pt')),
	host       BOOLEAN NOT NULL DEFAULT FALSE,
	created_us BIGINT NOT NULL
);
CREATE UNIQUE INDEX agencies_host_country ON agencies (country) WHERE host;

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	agency_id     TEXT NOT NULL REFERENCES agencies (id),
	username      TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL CHECK (role IN ('administrator', 'operator', 'analyst', 'partner', 'viewer')),
	lang          TEXT NOT NULL CHECK (lang IN ('es', 'en', 'pt')),
	password_hash TEXT NOT NULL DEFAULT '',
	disabled      BOOLEAN NOT NULL DEFAULT FALSE,
	created_us    BIGINT NOT NULL,
	updated_us    BIGINT NOT NULL
);
CREATE INDEX users_agency ON users (agency_id);

CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id),
	name       TEXT NOT NULL DEFAULT '',
	hash       TEXT NOT NULL UNIQUE,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL,
	revoked_us BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
	hash         TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id),
	csrf         TEXT NOT NULL,
	created_us   BIGINT NOT NULL,
	last_seen_us BIGINT NOT NULL,
	expires_us   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE site_releases (
	site_id     TEXT NOT NULL REFERENCES sites (id),
	agency_id   TEXT NOT NULL REFERENCES agencies (id),
	released_by TEXT NOT NULL,
	at_us       BIGINT NOT NULL,
	PRIMARY KEY (site_id, agency_id)
);
CREATE INDEX site_releases_agency ON site_releases (agency_id);

CREATE TABLE audit_log (
	seq          BIGINT PRIMARY KEY,
	at_us        BIGINT NOT NULL,
	actor_user   TEXT NOT NULL DEFAULT '',
	actor_agency TEXT NOT NULL DEFAULT '',
	action       TEXT NOT NULL,
	object_type  TEXT NOT NULL DEFAULT '',
	object_id    TEXT NOT NULL DEFAULT '',
	details      TEXT NOT NULL DEFAULT '',
	prev_hash    TEXT NOT NULL,
	hash         TEXT NOT NULL
);

CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
`,
		dialects: map[string]string{
			"sqlite": `
CREATE TRIGGER site_releases_no_update BEFORE UPDATE ON site_releases BEGIN
	SELECT RAISE(ABORT, 'site_releases are append-only');
END;
CREATE TRIGGER site_releases_no_delete BEFORE DELETE ON site_releases BEGIN
	SELECT RAISE(ABORT, 'site_releases are append-only');
END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head BEGIN
	SELECT RAISE(ABORT, 'audit_head only moves forward, one entry at a time');
END;
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
	WHEN new.id <> old.id OR new.seq <> old.seq + 1 OR new.hash IS NOT (SELECT hash FROM audit_log WHERE seq = new.seq)
BEGIN
	SELECT RAISE(ABORT, 'audit_head only moves forward, one entry at a time');
END;
`,
			"postgres": `
CREATE FUNCTION site_releases_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'site_releases are append-only';
END
$$;
CREATE TRIGGER site_releases_no_change BEFORE UPDATE OR DELETE ON site_releases
	FOR EACH ROW EXECUTE FUNCTION site_releases_append_only();
CREATE TRIGGER site_releases_no_truncate BEFORE TRUNCATE ON site_releases
	FOR EACH STATEMENT EXECUTE FUNCTION site_releases_append_only();
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE FUNCTION audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1
		OR NEW.hash IS DISTINCT FROM (SELECT hash FROM audit_log WHERE seq = NEW.seq) THEN
		RAISE EXCEPTION 'audit_head only moves forward, one entry at a time';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_head_move BEFORE UPDATE OR DELETE ON audit_head
	FOR EACH ROW EXECUTE FUNCTION audit_head_forward();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
	FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward();
`,
		},
	},
	{
		version: 3,
		name:    "feed: per-sink delivery queues and dead letters, webhook subscriptions",
		common: `
CREATE TABLE feed_deliveries (
	seq             {serial},
	sink            TEXT NOT NULL,
	alert_id        TEXT NOT NULL,
	site_id         TEXT NOT NULL DEFAULT '',
	kind            TEXT NOT NULL,
	payload         TEXT NOT NULL,
	created_us      BIGINT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_us BIGINT NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	dead_us         BIGINT NOT NULL DEFAULT 0,
	UNIQUE (sink, alert_id)
);
CREATE INDEX feed_deliveries_site ON feed_deliveries (sink, site_id, created_us, seq);
CREATE INDEX feed_deliveries_due ON feed_deliveries (sink, dead_us, next_attempt_us);

CREATE TABLE webhook_subscriptions (
	id         TEXT PRIMARY KEY,
	agency_id  TEXT NOT NULL CHECK (agency_id <> ''),
	url        TEXT NOT NULL CHECK (url <> ''),
	secret     TEXT NOT NULL CHECK (secret <> ''),
	created_us BIGINT NOT NULL
);
CREATE INDEX webhook_subscriptions_agency ON webhook_subscriptions (agency_id);
`,
	},
	{
		version: 4,
		name:    "TAK client certificates (issued, revoked)",
		common: `
CREATE TABLE tak_certs (
	serial        TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL,
	agency_id     TEXT NOT NULL,
	client_uid    TEXT NOT NULL DEFAULT '',
	subject       TEXT NOT NULL,
	not_before_us BIGINT NOT NULL,
	not_after_us  BIGINT NOT NULL,
	issued_us     BIGINT NOT NULL,
	revoked_us    BIGINT NOT NULL DEFAULT 0,
	revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tak_certs_user ON tak_certs (user_id);
`,
	},
	{
		version: 5,
		name:    "detection plume images",
		common: `
ALTER TABLE detections ADD COLUMN plume_png {blob} NOT NULL DEFAULT '';
`,
	},
	{
		version: 6,
		name:    "review queue index (open sites by probability, surveys, id)",
		common: `
CREATE INDEX sites_queue ON sites (probability DESC, passes_surveyed, id) WHERE status IN ('candidate', 'revisit');
`,
	},
	{
		version: 7,
		name:    "administrative areas (municipalities, states) imported by the operator",
		common: `
CREATE TABLE admin_areas (
	id          TEXT PRIMARY KEY,
	level       TEXT NOT NULL CHECK (level IN ('municipality', 'state')),
	name        TEXT NOT NULL CHECK (name <> ''),
	code        TEXT NOT NULL DEFAULT '',
	parent      TEXT NOT NULL DEFAULT '',
	source      TEXT NOT NULL CHECK (source <> ''),
	geojson     TEXT NOT NULL,
	min_lat     DOUBLE PRECISION NOT NULL CHECK (min_lat BETWEEN -90 AND 90),
	min_lon     DOUBLE PRECISION NOT NULL CHECK (min_lon BETWEEN -180 AND 180),
	max_lat     DOUBLE PRECISION NOT NULL CHECK (max_lat BETWEEN min_lat AND 90),
	max_lon     DOUBLE PRECISION NOT NULL CHECK (max_lon BETWEEN min_lon AND 180),
	imported_us BIGINT NOT NULL
);
CREATE INDEX admin_areas_source ON admin_areas (level, source);
CREATE INDEX admin_areas_bbox ON admin_areas (min_lat, max_lat, min_lon, max_lon);

CREATE TABLE admin_areas_generation (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	generation BIGINT NOT NULL
);
INSERT INTO admin_areas_generation (id, generation) VALUES (1, 0);
`,
		dialects: map[string]string{
			"postgres": `
ALTER TABLE admin_areas ADD COLUMN geom geometry(MultiPolygon, 4326)
	GENERATED ALWAYS AS (ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326))) STORED;
CREATE INDEX admin_areas_geom ON admin_areas USING GIST (geom);
`,
		},
	},
}

// SchemaVersion is the newest schema version this code knows.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// migrate applies the pending migrations, each in a transaction that first
// takes the migration lock (PostgreSQL: an advisory lock; SQLite: the write
// lock, taken at BEGIN), so concurrent starts apply each version once.
func (db *DB) migrate(ctx context.Context) error {
	for _, m := range migrations {
		err := db.inTx(ctx, func(t *tx) error {
			t.stmts = nil // the schema is changing: nothing prepared
			if db.d.name == "postgres" {
				// 0x61746c79 is "atly": any constant shared by all
				// Atalaya processes.
				if _, err := t.exec(ctx, `SELECT pg_advisory_xact_lock(1635019897)`); err != nil {
					return err
				}
			}
			if _, err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_us BIGINT NOT NULL
)`); err != nil {
				return err
			}
			var n int
			if err := t.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, part := range []string{m.pre[db.d.name], m.common, m.dialects[db.d.name]} {
				if part == "" {
					continue
				}
				// Multi-statement text without arguments: both drivers run
				// every statement (pgx through the simple protocol).
				if _, err := t.q.ExecContext(ctx, db.d.macros.Replace(part)); err != nil {
					return err
				}
			}
			_, err := t.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)`,
				m.version, m.name, us(db.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
)

// Options configure a DB. The zero value is the default.
type Options struct {
	// Now is the clock (time.Now if nil); tests pass a fake one.
	Now func() time.Time
	// MaxConns bounds the connection pool (default 8 for SQLite, 16 for
	// PostgreSQL).
	MaxConns int
	// BusyTimeout is how long an SQLite writer waits for another writer's
	// lock before failing (default 10 s).
	BusyTimeout time.Duration
	// NoMigrate opens the store as it is, applying no migration (for tools
	// such as backup that must not change what they read).
	NoMigrate bool
}

// DB is a store on SQLite or PostgreSQL. Its methods are safe for
// concurrent use.
type DB struct {
	ops
	db  *sql.DB
	dsn string // for SQLite, the file path
}

var _ Store = (*DB)(nil)

// Open opens (creating it if need be) the store at url and applies any
// pending migrations. url is "sqlite:PATH" or a PostgreSQL URL
// ("postgres://user@host:port/db?sslmode=disable"); a PostgreSQL database
// needs the PostGIS extension available (it is created if missing).
func Open(ctx context.Context, url string, opt Options) (*DB, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	var (
		d    *dialect
		dsn  string
		path string
	)
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path = strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" || strings.ContainsAny(path, "?#") {
			return nil, fmt.Errorf("open store %q: want sqlite:PATH with a file path without ? or #", url)
		}
		busy := opt.BusyTimeout
		if busy <= 0 {
			busy = 10 * time.Second
		}
		// busy_timeout first (the driver applies it before the rest);
		// immediate transactions take the write lock at BEGIN, so a
		// read-then-write transaction cannot fail half-way on a lock
		// upgrade (SQLITE_BUSY_SNAPSHOT in WAL mode).
		dsn = path + "?_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")" +
			"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
			"&_txlock=immediate"
		d = sqliteDialect
		if opt.MaxConns <= 0 {
			opt.MaxConns = 8
		}
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		dsn = url
		d = postgresDialect
		if opt.MaxConns <= 0 {
			opt.MaxConns = 16
		}
	default:
		return nil, fmt.Errorf("open store %q: want sqlite:PATH or a postgres:// URL", redact(url))
	}
	sdb, err := sql.Open(d.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", redact(url), err)
	}
	sdb.SetMaxOpenConns(opt.MaxConns)
	sdb.SetMaxIdleConns(opt.MaxConns)
	if err := sdb.PingContext(ctx); err != nil {
		_ = sdb.Close()
		return nil, fmt.Errorf("open store %s: %w", redact(url), err)
	}
	db := &DB{ops: ops{q: sdb, d: d, now: opt.Now}, db: sdb, dsn: path}
	if d == sqliteDialect {
		db.stmts = &stmtCache{db: sdb}
	}
	if opt.NoMigrate {
		return db, nil
	}
	if err := db.migrate(ctx); err != nil {
		_ = sdb.Close()
		return nil, fmt.Errorf("open store %s: %w", redact(url), err)
	}
	return db, nil
}

// redact hides a password in a URL for error messages.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return url
	}
	userinfo := url[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return url[:scheme+3] + userinfo[:i] + ":xxxxx" + url[at:]
	}
	return url
}

// Dialect reports "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.name }

// Close closes the store.
func (db *DB) Close() error {
	if db.stmts != nil {
		db.stmts.close()
	}
	return db.db.Close()
}

// Begin starts a transaction.
func (db *DB) Begin(ctx context.Context) (Tx, error) {
	return db.begin(ctx)
}

func (db *DB) begin(ctx context.Context) (*tx, error) {
	t, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &tx{ops: ops{q: t, d: db.d, now: db.now, inTx: true, tx: t, stmts: db.stmts}, t: t}, nil
}

// InTx runs fn in a transaction: it commits if fn returns nil, and rolls
// back if fn returns an error or panics (and then re-panics).
func (db *DB) InTx(ctx context.Context, fn func(Tx) error) error {
	return db.inTx(ctx, func(t *tx) error { return fn(t) })
}

func (db *DB) inTx(ctx context.Context, fn func(*tx) error) (err error) {
	t, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = t.Rollback()
			panic(p)
		}
	}()
	if err := fn(t); err != nil {
		if rerr := t.Rollback(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return t.Commit()
}

// tx is a transaction.
type tx struct {
	ops
	t *sql.Tx
}

func (t *tx) Commit() error {
	if err := t.t.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (t *tx) Rollback() error {
	if err := t.t.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ops are the reads and writes, on a pool (reads only: the DB wraps each
// write in a transaction) or on a transaction.
type ops struct {
	q     querier
	d     *dialect
	now   func() time.Time
	inTx  bool
	tx    *sql.Tx    // when inTx
	stmts *stmtCache // nil: no prepared statements
}

func (o *ops) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := o.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return o.q.ExecContext(ctx, o.d.sql(query), args...)
}

func (o *ops) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := o.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return o.q.QueryContext(ctx, o.d.sql(query), args...)
}

func (o *ops) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := o.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return o.q.QueryRowContext(ctx, o.d.sql(query), args...)
}

// stmt returns the query prepared once per connection (SQLite, where
// preparing a statement costs as much as running it; pgx caches prepared
// statements itself), or nil to run it unprepared. A statement from a
// transaction is closed with it.
func (o *ops) stmt(ctx context.Context, query string) *sql.Stmt {
	if o.stmts == nil {
		return nil
	}
	var st *sql.Stmt
	if v, ok := o.stmts.m.Load(query); ok {
		st = v.(*sql.Stmt)
	} else {
		p, err := o.stmts.db.PrepareContext(ctx, o.d.sql(query))
		if err != nil {
			return nil // run unprepared: the error, if any, shows there
		}
		if v, loaded := o.stmts.m.LoadOrStore(query, p); loaded {
			_ = p.Close()
			st = v.(*sql.Stmt)
		} else {
			st = p
		}
	}
	if o.tx != nil {
		return o.tx.StmtContext(ctx, st)
	}
	return st
}

// stmtCache holds a DB's prepared statements, by query text.
type stmtCache struct {
	db *sql.DB
	m  sync.Map
}

func (c *stmtCache) close() {
	c.m.Range(func(_, v any) bool {
		_ = v.(*sql.Stmt).Close()
		return true
	})
}

// dialect is what differs between the databases.
type dialect struct {
	name   string
	driver string
	// dollar: placeholders are $1, $2, ... instead of ?.
	dollar bool
	// macros expand {blob}, {serial}, {skip_locked} and {for_update} in SQL
	// text.
	macros *strings.Replacer
	cache  sync.Map // query text → dialect text
	// constraint maps a constraint violation to ErrNotFound (foreign key),
	// ErrConflict (unique) or ErrInvalid (check, not null); nil otherwise.
	constraint func(error) error
}

var sqliteDialect = &dialect{
	name:   "sqlite",
	driver: "sqlite",
	macros: strings.NewReplacer(
		"{blob}", "BLOB",
		"{serial}", "INTEGER PRIMARY KEY",
		"{skip_locked}", "", // one writer at a time: nothing to skip
		"{for_update}", ""), // the write lock is taken at BEGIN
	constraint: func(err error) error {
		var se *sqlite.Error
		if !errors.As(err, &se) {
			return nil
		}
		// Extended result codes, https://sqlite.org/rescode.html.
		switch se.Code() {
		case 787: // SQLITE_CONSTRAINT_FOREIGNKEY
			return ErrNotFound
		case 1555, 2067: // SQLITE_CONSTRAINT_PRIMARYKEY, _UNIQUE
			return ErrConflict
		case 275, 1299: // SQLITE_CONSTRAINT_CHECK, _NOTNULL
			return ErrInvalid
		}
		return nil
	},
}

var postgresDialect = &dialect{
	name:   "postgres",
	driver: "pgx",
	dollar: true,
	macros: strings.NewReplacer(
		"{blob}", "BYTEA",
		"{serial}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		"{skip_locked}", "FOR UPDATE SKIP LOCKED",
		"{for_update}", "FOR UPDATE"),
	constraint: func(err error) error {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			return nil
		}
		// SQLSTATE class 23, integrity constraint violation.
		switch pe.Code {
		case "23503":
			return ErrNotFound
		case "23505":
			return ErrConflict
		case "23514", "23502":
			return ErrInvalid
		}
		return nil
	},
}

// sql expands macros and placeholders.
func (d *dialect) sql(q string) string {
	if v, ok := d.cache.Load(q); ok {
		return v.(string)
	}
	s := d.expand(q)
	d.cache.Store(q, s)
	return s
}

// expand is sql without the cache, for text built at run time.
func (d *dialect) expand(q string) string {
	s := d.macros.Replace(q)
	if d.dollar {
		var b strings.Builder
		n := 0
		for _, r := range s {
			if r == '?' {
				n++
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		s = b.String()
	}
	return s
}

// wrap gives a database error context and, for constraint violations, the
// package's sentinel.
func (d *dialect) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", msg, ErrNotFound)
	}
	if s := d.constraint(err); s != nil {
		return fmt.Errorf("%s: %w: %w", msg, s, err)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// newID returns a 32-hex-digit id: 48 bits of Unix milliseconds then 80
// random bits, so ids sort roughly by creation time (good for B-tree
// locality) and never collide in practice.
func newID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// us is a time as stored: microseconds since the epoch, 0 for the zero time.
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromUS is the inverse of us, in UTC.
func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// maxRows is the limit used when the caller gives none (≤ 0).
const maxRows = math.MaxInt32

func limitOf(n int) int {
	if n <= 0 || n > maxRows {
		return maxRows
	}
	return n
}

// finite checks float fields: SQLite stores NaN as NULL, so non-finite
// values are refused in both databases to keep them identical.
func finite(record string, fields ...any) error {
	for i := 0; i+1 < len(fields); i += 2 {
		v := fields[i+1].(float64)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %s %s = %v: want a finite number", ErrInvalid, record, fields[i], v)
		}
	}
	return nil
}

func checkLatLon(record string, lat, lon float64) error {
	if !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180) {
		return fmt.Errorf("%w: %s lat/lon = %v/%v: want [-90, 90]/[-180, 180] degrees", ErrInvalid, record, lat, lon)
	}
	return nil
}

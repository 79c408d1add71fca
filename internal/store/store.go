package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by the store; test with errors.Is.
var (
	// ErrNotFound: no record has that id (or key).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the record changed since it was read (a stale version), or
	// the requested state change is not allowed from the record's state.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid: a record failed validation; the message names the field.
	ErrInvalid = errors.New("store: invalid record")
	// ErrUnsupported: the operation does not exist for this database.
	ErrUnsupported = errors.New("store: unsupported for this database")
)

// GranuleKind is what a granule holds.
type GranuleKind string

// Granule kinds.
const (
	KindCube      GranuleKind = "cube"
	KindTrace     GranuleKind = "trace"
	KindFlightLog GranuleKind = "flightlog"
)

// GranuleStatus is where a granule is in processing.
type GranuleStatus string

// Granule states: recorded → processing → done, or → failed (and back to
// processing on a retry).
const (
	GranuleRecorded   GranuleStatus = "recorded"
	GranuleProcessing GranuleStatus = "processing"
	GranuleDone       GranuleStatus = "done"
	GranuleFailed     GranuleStatus = "failed"
)

// BBox is a latitude/longitude box in degrees, edges included. Boxes that
// cross the antimeridian are not supported (surveys are local).
type BBox struct {
	MinLat, MinLon, MaxLat, MaxLon float64
}

// Contains reports whether the point is inside the box, edges included.
func (b BBox) Contains(lat, lon float64) bool {
	return lat >= b.MinLat && lat <= b.MaxLat && lon >= b.MinLon && lon <= b.MaxLon
}

// Granule is one unit of survey data: one cube, one sensor trace or one
// flight log. Its bytes live elsewhere (URI); the store keeps what is needed
// to find, process and retire it.
type Granule struct {
	ID     string
	Kind   GranuleKind
	SHA256 string // hex, lower case, of the content; unique
	Name   string
	Size   int64  // bytes
	URI    string // where the bytes are stored
	// Footprint is the ground the granule covers: its bounding box and the
	// polygon as GeoJSON (a Polygon or MultiPolygon geometry, EPSG:4326).
	Footprint        BBox
	FootprintGeoJSON string
	Acquired         time.Time
	Status           GranuleStatus
	Attempts         int    // times processing started
	Error            string // last failure, if failed
	Populated        bool   // covers a populated area (retention applies)
	Created, Updated time.Time
}

// Detection is one plume or point-sensor detection found in a granule.
type Detection struct {
	ID        string
	GranuleID string
	Gas       string
	Method    string  // detector: mf, ace, rx, cem, sniff, ...
	Score     float64 // detector statistic
	PValue    float64 // probability of a score this high from background alone
	Lat, Lon  float64
	// UncertaintyM is the 1σ location uncertainty in metres.
	UncertaintyM float64
	PeakPPMM     float64 // peak concentration-pathlength, ppm·m
	MeanPPMM     float64 // mean over the plume mask, ppm·m
	SigmaPPMM    float64 // retrieval noise σ_c, ppm·m
	IMEKg        float64 // integrated mass enhancement, kg
	RateKgH      float64 // emission rate, kg/h
	RateSigmaKgH float64 // its 1σ, kg/h
	OutlineJSON  string  // plume outline, GeoJSON geometry; may be empty
	Properties   string  // any further attributes, a JSON object; may be empty
	// PlumePNG is the plume image (image/png bytes; a string keeps
	// Detection comparable) of an imaging detection, for the site page and
	// reports; may be empty. CompleteGranule writes it; reads of detections
	// leave it empty (DetectionPlumePNG reads it, so listings stay small).
	PlumePNG string
	Created  time.Time
}

// SiteStatus is where a site is in review.
type SiteStatus string

// Site states.
const (
	SiteCandidate SiteStatus = "candidate"
	SiteConfirmed SiteStatus = "confirmed"
	SiteDismissed SiteStatus = "dismissed"
	SiteRevisit   SiteStatus = "revisit"
	SiteReleased  SiteStatus = "released"
)

// Site is a candidate laboratory site fused from detections over passes.
type Site struct {
	ID           string
	Lat, Lon     float64
	UncertaintyM float64
	GasProfile   string // JSON object, gas → evidence summary
	FirstSeen    time.Time
	LastSeen     time.Time
	PassesSeen   int // passes in which it was detected
	PassesSurvey int // passes that surveyed it (seen or not)
	Evidence     float64
	Probability  float64
	TypeGuess    string // site-type profile, e.g. "meth-p2p"
	Status       SiteStatus
	// Version is the optimistic-concurrency token: set by the store, passed
	// back unchanged in UpdateSite.
	Version          int64
	Created, Updated time.Time
}

// Tile is one tile of a gas's evidence grid: the accumulated
// inverse-variance sums of the tile's cells, encoded by the evidence grid.
type Tile struct {
	Gas     string
	Key     string // tile key, e.g. "z15/17342/11211"
	Data    []byte
	Version int64 // 0 for a tile not yet stored
	Updated time.Time
}

// DecisionAction is what an analyst (or partner) did to a site.
type DecisionAction string

// Decision actions.
const (
	ActionConfirm     DecisionAction = "confirm"
	ActionDismiss     DecisionAction = "dismiss"
	ActionRevisit     DecisionAction = "revisit"
	ActionRelease     DecisionAction = "release"
	ActionGroundTruth DecisionAction = "ground-truth"
)

// Decision is one entry of a site's append-only decision log.
type Decision struct {
	ID      string
	SiteID  string
	Actor   string // who: a user or agency id
	At      time.Time
	Action  DecisionAction
	Reason  string
	Payload string // JSON; may be empty
}

// Alert is an outbox row: a message to deliver at least once.
type Alert struct {
	ID          string // stable: use as the message id downstream
	SiteID      string // may be empty
	Kind        string
	Payload     string
	Created     time.Time
	Attempts    int
	NextAttempt time.Time
}

// History is a site with what happened to it, oldest first.
type History struct {
	Site       Site
	Detections []Detection
	Decisions  []Decision
}

// Purged is a granule record deleted by PurgeGranules: the caller deletes
// the bytes at URI.
type Purged struct {
	ID  string
	URI string
}

// DefaultRetention is how long raw granules of populated areas are kept when
// no site needs them (data minimisation).
const DefaultRetention = 90 * 24 * time.Hour

// GranuleReader reads granules.
type GranuleReader interface {
	Granule(ctx context.Context, id string) (Granule, error)
	GranulesByStatus(ctx context.Context, status GranuleStatus, limit int) ([]Granule, error)
	// GranulesCovering returns the done granules whose footprint box
	// holds the point, oldest acquisition first (the passes that surveyed
	// a place; callers test the footprint polygon for the exact answer).
	GranulesCovering(ctx context.Context, lat, lon float64, limit int) ([]Granule, error)
	// OverdueGranules returns granules not done (recorded, processing or
	// failed) whose last change is before deadline, oldest first: what a
	// reconciler re-publishes.
	OverdueGranules(ctx context.Context, deadline time.Time, limit int) ([]Granule, error)
}

// GranuleWriter records granules and moves them through processing.
type GranuleWriter interface {
	// PutGranule records g (status recorded), or returns the existing record
	// with the same SHA-256 and created=false, changing nothing.
	PutGranule(ctx context.Context, g Granule) (rec Granule, created bool, err error)
	// StartGranule moves a granule that is not done to processing and
	// counts the attempt; ErrConflict if it is done.
	StartGranule(ctx context.Context, id string) (Granule, error)
	// FailGranule records a failed attempt; ErrConflict if it is done.
	FailGranule(ctx context.Context, id string, reason string) error
	// CompleteGranule writes the detections and marks the granule done, in
	// one transaction, and returns the detections as stored. Completing a
	// done granule changes nothing and returns the detections it has.
	CompleteGranule(ctx context.Context, granuleID string, ds []Detection) ([]Detection, error)
}

// DetectionReader reads detections.
type DetectionReader interface {
	Detection(ctx context.Context, id string) (Detection, error)
	DetectionsOfGranule(ctx context.Context, granuleID string) ([]Detection, error)
	// DetectionPlumePNG returns a detection's plume image, empty if it has
	// none; ErrNotFound if there is no such detection.
	DetectionPlumePNG(ctx context.Context, id string) ([]byte, error)
}

// SiteReader reads sites.
type SiteReader interface {
	Site(ctx context.Context, id string) (Site, error)
	// SitesInBBox returns the sites inside b (edges included), by id.
	SitesInBBox(ctx context.Context, b BBox, limit int) ([]Site, error)
	// SitesNear returns the sites within radiusM metres (great-circle) of
	// the point, nearest first, and their distances in metres.
	SitesNear(ctx context.Context, lat, lon, radiusM float64, limit int) ([]Site, []float64, error)
	// SitesPage returns a page of the sites q selects (filters in SQL),
	// in a stable order, after q.After (keyset pagination).
	SitesPage(ctx context.Context, q SiteQuery) ([]Site, error)
	// SiteHistory returns the site, its linked detections and its
	// decisions, oldest first.
	SiteHistory(ctx context.Context, id string) (History, error)
}

// SiteWriter creates and updates sites.
type SiteWriter interface {
	// CreateSite stores a new site (version 1) and returns it.
	CreateSite(ctx context.Context, s Site) (Site, error)
	// UpdateSite stores s if the stored version is still s.Version and
	// returns it with its new version; ErrConflict otherwise.
	UpdateSite(ctx context.Context, s Site) (Site, error)
	// LinkDetections links detections to a site; links already there stay.
	LinkDetections(ctx context.Context, siteID string, detectionIDs ...string) error
}

// EvidenceReader reads evidence-grid tiles.
type EvidenceReader interface {
	Tile(ctx context.Context, gas, key string) (Tile, error)
	TileKeys(ctx context.Context, gas string) ([]string, error)
}

// EvidenceWriter writes evidence-grid tiles.
type EvidenceWriter interface {
	// PutTile stores t if the stored version is still t.Version (0: the
	// tile must not exist yet) and returns it with its new version;
	// ErrConflict otherwise.
	PutTile(ctx context.Context, t Tile) (Tile, error)
}

// DecisionReader reads a site's decision log, oldest first.
type DecisionReader interface {
	Decisions(ctx context.Context, siteID string) ([]Decision, error)
	// Verdicts returns the latest verdict on every site judged, for
	// calibration (see Verdict).
	Verdicts(ctx context.Context) ([]Verdict, error)
}

// DecisionWriter appends to a site's decision log; there is no update or
// delete.
type DecisionWriter interface {
	AppendDecision(ctx context.Context, d Decision) (Decision, error)
}

// OutboxWriter enqueues alerts; call it in the transaction that changed the
// site, so the alert exists if and only if the change does.
type OutboxWriter interface {
	EnqueueAlert(ctx context.Context, a Alert) (Alert, error)
}

// Outbox is the dispatcher's side of the outbox.
type Outbox interface {
	// ClaimOutbox returns up to limit alerts due now, oldest first, counts
	// the attempt and pushes their next attempt back by lease, doubled for
	// each earlier attempt up to 64× (exponential backoff), so that other
	// dispatchers skip them meanwhile.
	ClaimOutbox(ctx context.Context, limit int, lease time.Duration) ([]Alert, error)
	// DeleteOutbox removes a delivered alert. Call it only after a
	// successful send; ErrNotFound if it is gone already.
	DeleteOutbox(ctx context.Context, id string) error
}

// Reader is every read.
type Reader interface {
	GranuleReader
	DetectionReader
	SiteReader
	EvidenceReader
	DecisionReader
	AccessReader
}

// Writer is every transactional write.
type Writer interface {
	GranuleWriter
	SiteWriter
	EvidenceWriter
	DecisionWriter
	OutboxWriter
	AccessWriter
	TAKCerts
}

// Tx is a transaction: its reads see its own writes; nothing is visible to
// others until Commit. Rollback after Commit is a no-op, so
// `defer tx.Rollback()` is always safe.
type Tx interface {
	Reader
	Writer
	Commit() error
	Rollback() error
}

// Store is a whole store. Its Reader and Writer methods each run in a
// transaction of their own; use Begin or InTx to group writes.
type Store interface {
	Reader
	Writer
	Outbox
	Begin(ctx context.Context) (Tx, error)
	// InTx runs fn in a transaction, committing if fn returns nil and
	// rolling back if it returns an error or panics (the panic continues).
	InTx(ctx context.Context, fn func(Tx) error) error
	// PurgeGranules deletes the records of granules that are done or failed,
	// were recorded more than olderThan ago (0: DefaultRetention), cover a
	// populated area (if populatedOnly), and have no detection linked to a
	// site; their detections go with them. Sites, evidence and decisions
	// are kept. It returns what it deleted, for the caller to delete the
	// bytes at each URI.
	PurgeGranules(ctx context.Context, olderThan time.Duration, populatedOnly bool) ([]Purged, error)
	Close() error
}

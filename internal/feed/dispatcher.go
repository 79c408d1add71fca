package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// DispatcherStore is what the dispatcher needs of the store.
type DispatcherStore interface {
	store.Deliveries
}

// Options configure a Dispatcher. The zero value is usable (with sinks).
type Options struct {
	// Sinks are the fixed sinks (NATS, TAK servers).
	Sinks []Sink
	// MoreSinks, if set, lists further sinks that come and go (one per
	// webhook subscription: WebhookSinks); it is called every Refresh.
	MoreSinks func(ctx context.Context) ([]Sink, error)
	// Refresh is how often MoreSinks is called (default 5 s).
	Refresh time.Duration
	// Poll is how often the outbox and each queue are looked at when
	// nothing wakes the dispatcher (default 250 ms). Notify wakes it at
	// once.
	Poll time.Duration
	// Lease is how long a claimed alert is reserved for this dispatcher;
	// if it dies, another (or it, restarted) takes the alert up after the
	// lease (default 30 s). It bounds the time a Deliver may take
	// (Timeout).
	Lease time.Duration
	// Timeout bounds one Deliver call (default Lease/2).
	Timeout time.Duration
	// Batch is how many alerts are claimed at once (default 64).
	Batch int
	// MaxAttempts: after this many failed attempts an alert becomes a dead
	// letter (default 15, about 10 hours with the default backoff).
	MaxAttempts int
	// Backoff is the wait after the first failure, doubled after each
	// further one up to MaxBackoff, with jitter (defaults 1 s and 1 h).
	Backoff, MaxBackoff time.Duration
	// Site returns a site as partners see it now (with its owner and
	// releases), for alerts whose payload is not an Event (written with
	// store.EnqueueAlert rather than Enqueue): the dispatcher delivers the
	// Event of the site's current state instead. Nil: such alerts reach
	// only the sinks that take every alert. Catalog.Lookup is one.
	Site func(ctx context.Context, siteID string) (Site, error)
	// Visible decides whether agency may see a site owned by owner and
	// released to releasedTo (default: the owner, or an agency it was
	// released to; access.Visible).
	Visible func(agency, owner string, releasedTo []string) bool
	Log     *slog.Logger
	Now     func() time.Time
}

func (o *Options) defaults() {
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Timeout <= 0 || o.Timeout > o.Lease {
		o.Timeout = o.Lease / 2
	}
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 15
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Hour
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	if o.Visible == nil {
		o.Visible = visible
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// visible is the releasability rule (access.Visible) for a receiving
// agency.
func visible(agency, owner string, releasedTo []string) bool {
	return access.Visible(access.Principal{AgencyID: agency}, owner, releasedTo)
}

// Dispatcher moves alerts from the store's outbox into per-sink queues and
// delivers each queue to its sink. Several dispatchers (processes) may run
// on one store: leases keep them from sending the same alert at once.
type Dispatcher struct {
	st   DispatcherStore
	opt  Options
	wake chan struct{}

	mu      sync.Mutex
	sinks   map[string]*sinkWorker
	workers sync.WaitGroup
}

// sinkWorker delivers one sink's queue.
type sinkWorker struct {
	sink   Sink
	wake   chan struct{}
	cancel context.CancelFunc
}

// NewDispatcher makes a dispatcher; Run starts it.
func NewDispatcher(st DispatcherStore, opt Options) *Dispatcher {
	opt.defaults()
	return &Dispatcher{st: st, opt: opt, wake: make(chan struct{}, 1), sinks: map[string]*sinkWorker{}}
}

// Notify wakes the dispatcher: call it after committing an alert, so the
// alert goes out now rather than at the next poll.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx is done, then waits for the sends in flight
// (each bounded by Timeout) and returns nil; an error only if it cannot
// start (a duplicate sink name).
func (d *Dispatcher) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		d.workers.Wait()
	}()
	seen := map[string]bool{}
	for _, s := range d.opt.Sinks {
		if seen[s.Name()] {
			return fmt.Errorf("dispatcher: two sinks named %q", s.Name())
		}
		seen[s.Name()] = true
	}
	var lastRefresh time.Time
	sinks := d.refresh(ctx, nil)
	lastRefresh = time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-timer.C:
		}
		if time.Since(lastRefresh) >= d.opt.Refresh {
			sinks = d.refresh(ctx, sinks)
			lastRefresh = time.Now()
		}
		full := d.fanOut(ctx, sinks)
		if full {
			timer.Reset(0)
		} else {
			timer.Reset(d.opt.Poll)
		}
	}
}

// refresh brings the set of sinks up to date, starting a worker for each
// new sink and stopping those of sinks that are gone.
func (d *Dispatcher) refresh(ctx context.Context, old []Sink) []Sink {
	sinks := append([]Sink(nil), d.opt.Sinks...)
	if d.opt.MoreSinks != nil {
		more, err := d.opt.MoreSinks(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.opt.Log.Error("list sinks; keeping the previous ones", "err", err)
			}
			if old != nil {
				return old
			}
			more = nil // the fixed sinks at least
		}
		names := map[string]bool{}
		for _, s := range sinks {
			names[s.Name()] = true
		}
		for _, s := range more {
			if names[s.Name()] {
				d.opt.Log.Error("two sinks with one name; ignoring the second", "sink", s.Name())
				continue
			}
			names[s.Name()] = true
			sinks = append(sinks, s)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	live := map[string]bool{}
	for _, s := range sinks {
		live[s.Name()] = true
		w, ok := d.sinks[s.Name()]
		if ok {
			w.sink = s
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w = &sinkWorker{sink: s, wake: make(chan struct{}, 1), cancel: cancel}
		d.sinks[s.Name()] = w
		d.workers.Add(1)
		go func() {
			defer d.workers.Done()
			d.deliverLoop(wctx, w)
		}()
	}
	for name, w := range d.sinks {
		if !live[name] {
			w.cancel()
			delete(d.sinks, name)
		}
	}
	return sinks
}

// fanOut moves one batch of outbox alerts into the queues of the sinks
// that may see them (one transaction), wakes those sinks, and reports
// whether the batch was full (more may be waiting).
func (d *Dispatcher) fanOut(ctx context.Context, sinks []Sink) bool {
	alerts, names, err := d.st.FanOutDue(ctx, d.opt.Batch, func(a store.Alert) (string, []string) { return d.route(ctx, a, sinks) })
	if err != nil {
		if ctx.Err() == nil {
			d.opt.Log.Error("fan out the outbox; the alerts stay there", "err", err)
		}
		return false
	}
	woken := map[string]bool{}
	for _, ns := range names {
		for _, n := range ns {
			woken[n] = true
		}
	}
	d.mu.Lock()
	for n := range woken {
		if w, ok := d.sinks[n]; ok {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
	d.mu.Unlock()
	return len(alerts) == d.opt.Batch
}

// route returns the payload alert a is delivered with and the names of the
// sinks that get it: every sink that is not an AgencySink, and each
// AgencySink whose agency may see the site.
func (d *Dispatcher) route(ctx context.Context, a store.Alert, sinks []Sink) (string, []string) {
	payload := a.Payload
	ev, err := ParseEvent(a)
	if err != nil && a.SiteID != "" && d.opt.Site != nil {
		// Not an Event: deliver the site's current state.
		s, serr := d.opt.Site(ctx, a.SiteID)
		if serr == nil {
			ev = Event{ID: a.ID, Kind: a.Kind, Time: a.Created, Site: s}
			if b, merr := json.Marshal(ev); merr == nil {
				payload, err = string(b), nil
			}
		} else {
			d.opt.Log.Error("site of an alert without an event payload", "alert", a.ID, "site", a.SiteID, "err", serr)
		}
	}
	if err != nil {
		d.opt.Log.Error("alert payload unreadable: no agency sink gets it", "alert", a.ID, "err", err)
	}
	var out []string
	for _, s := range sinks {
		as, ok := s.(AgencySink)
		if !ok {
			out = append(out, s.Name())
			continue
		}
		if err == nil && d.opt.Visible(as.Agency(), ev.Site.Owner, ev.Site.ReleasedTo) {
			out = append(out, s.Name())
		}
	}
	return payload, out
}

// deliverLoop delivers one sink's queue until ctx is done.
func (d *Dispatcher) deliverLoop(ctx context.Context, w *sinkWorker) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
		d.mu.Lock()
		s := w.sink // refresh may replace it
		d.mu.Unlock()
		more := d.deliverBatch(ctx, s)
		if more {
			timer.Reset(0)
		} else {
			timer.Reset(d.opt.Poll)
		}
	}
}

// deliverBatch claims and sends one batch of a sink's queue and reports
// whether to go on at once (something was delivered: the sites' next
// alerts may be due).
func (d *Dispatcher) deliverBatch(ctx context.Context, s Sink) bool {
	name := s.Name()
	ds, err := d.st.ClaimDeliveries(ctx, name, d.opt.Batch, d.opt.Lease)
	if err != nil {
		if ctx.Err() == nil {
			d.opt.Log.Error("claim deliveries", "sink", name, "err", err)
		}
		return false
	}
	var (
		done []string // delivered; recorded together after the batch
		more bool
	)
	for _, dl := range ds {
		if ctx.Err() != nil {
			break // the lease runs out and the rest is taken up again
		}
		sctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
		err := s.Deliver(sctx, dl.Alert)
		cancel()
		// Record the outcome even if ctx was cancelled during the send:
		// a send that succeeded should not be repeated.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		switch {
		case err == nil:
			done = append(done, dl.ID)
		case errors.Is(err, ErrPermanent) || dl.Attempts >= d.opt.MaxAttempts:
			d.opt.Log.Warn("dead letter", "sink", name, "alert", dl.ID, "attempts", dl.Attempts, "err", err)
			if err := d.st.KillDelivery(rctx, name, dl.ID, err.Error()); err != nil {
				d.opt.Log.Error("record dead letter", "sink", name, "alert", dl.ID, "err", err)
			}
			more = true // the site's next alert is due now
		default:
			next := d.opt.Now().Add(Backoff(d.opt.Backoff, d.opt.MaxBackoff, dl.Attempts, rand.Float64()))
			d.opt.Log.Debug("delivery failed; retrying", "sink", name, "alert", dl.ID, "attempts", dl.Attempts, "next", next, "err", err)
			if err := d.st.RetryDelivery(rctx, name, dl.ID, err.Error(), next); err != nil {
				d.opt.Log.Error("record failed delivery", "sink", name, "alert", dl.ID, "err", err)
			}
		}
		rcancel()
	}
	if len(done) > 0 {
		// One transaction for the batch. A dispatcher that dies before it
		// sends these again after the lease: receivers drop the repeats.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		left, err := d.st.DeleteDeliveries(rctx, name, done)
		if err != nil {
			d.opt.Log.Error("record deliveries; they will be sent again", "sink", name, "alerts", len(done), "err", err)
		}
		rcancel()
		// Go on at once if the delivered sites may have more due (their
		// next alerts were held back behind these).
		more = more || left > 0
	}
	return more || len(ds) == d.opt.Batch
}

// Backoff is the wait before the next attempt after attempt n (1, 2, ...)
// failed: base·2^(n−1), capped at max, with "equal jitter" (Brooker, 2015,
// "Exponential Backoff And Jitter", AWS Architecture Blog): half of it
// fixed, half uniform by u in [0, 1), so receivers coming back are not hit
// by every sender at the same instant, yet no retry comes sooner than half
// the step.
func Backoff(base, max time.Duration, n int, u float64) time.Duration {
	step := base
	for i := 1; i < n && step < max; i++ {
		step *= 2
	}
	step = min(step, max)
	half := step / 2
	return half + time.Duration(u*float64(step-half))
}

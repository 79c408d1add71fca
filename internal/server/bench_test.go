package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
)

// raiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit: 1,000 SSE
// clients hold 2,000 sockets (both ends) in this one process.
func raiseNoFile(b *testing.B, need uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		b.Fatal(err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			b.Fatal(err)
		}
	}
	if rl.Cur < need {
		b.Fatalf("RLIMIT_NOFILE is %d, need %d: raise the hard limit (ulimit -Hn)", rl.Cur, need)
	}
}

func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

// BenchmarkSSEFanout: 1,000 SSE clients over real HTTP on loopback while
// the API serves 500 requests/s; each iteration is one analyst decision
// (POST, commit, publish) whose site event every client must receive.
// Reported: the latency from sending the decision to each client's
// receipt of the event (p50, p99, max over all clients and iterations),
// and the API requests served per second and their p99.
//
//	go test -run - -bench SSEFanout -benchtime 50x ./internal/server
func BenchmarkSSEFanout(b *testing.B) {
	const (
		clients = 1000
		rate    = 500 // API requests per second
	)
	raiseNoFile(b, 3*clients+200)
	// Publishing is stamped, to split the latency into the decision's
	// request (commit included) and the fan-out.
	stamp := &stampPublisher{at: map[int64]time.Time{}}
	e := newEnv(b, sqliteURL(b), func(c *Config) { c.Publisher = stamp })
	stamp.hub = e.srv.Hub()
	tok := e.tok(access.RoleAnalyst, agCOL)

	// The clients.
	type rx struct {
		version int64
		at      time.Time
	}
	var (
		got         = make([][]rx, clients)
		wg          sync.WaitGroup
		ctx, cancel = context.WithCancel(context.Background())
	)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: 200}
	hc := &http.Client{Transport: tr}
	for i := range clients {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.http.URL+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
		if resp.StatusCode != 200 {
			b.Fatalf("client %d: %d", i, resp.StatusCode)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer resp.Body.Close()
			br := bufio.NewReaderSize(resp.Body, 16<<10)
			for {
				l, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if !bytes.HasPrefix(l, []byte("data: ")) {
					continue
				}
				now := time.Now()
				j := bytes.Index(l, []byte(`"version":`))
				if j < 0 {
					continue
				}
				k := j + len(`"version":`)
				end := k
				for end < len(l) && l[end] >= '0' && l[end] <= '9' {
					end++
				}
				v, _ := strconv.ParseInt(string(l[k:end]), 10, 64)
				got[i] = append(got[i], rx{v, now})
			}
		}()
	}
	for e.srv.hub.Clients() < clients {
		time.Sleep(time.Millisecond)
	}

	// The API load: rate requests per second, open loop, spread over
	// reads of a site, a page of sites, the queue and granules.
	var (
		served   atomic.Int64
		failed   atomic.Int64
		apiMu    sync.Mutex
		apiLat   []time.Duration
		loadDone = make(chan struct{})
	)
	paths := []string{"/api/v1/sites/" + e.siteCOL.ID, "/api/v1/sites?limit=50", "/api/v1/queue", "/api/v1/granules?limit=20"}
	lc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	loadStart := time.Now()
	var loadEnd time.Time
	go func() {
		defer close(loadDone)
		defer func() { loadEnd = time.Now() }()
		// Open loop: whenever it wakes, it sends what is due by the clock,
		// so a late wake-up on a busy machine does not lower the rate.
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		var n int
		var lwg sync.WaitGroup
		for {
			select {
			case <-ctx.Done():
				lwg.Wait()
				return
			case <-tick.C:
			}
			due := int(time.Since(loadStart).Seconds() * rate)
			for ; n < due; n++ {
				p := paths[n%len(paths)]
				lwg.Add(1)
				go func() {
					defer lwg.Done()
					start := time.Now()
					req, _ := http.NewRequest("GET", e.http.URL+p, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					resp, err := lc.Do(req)
					if err != nil {
						failed.Add(1)
						return
					}
					_, _ = bufio.NewReader(resp.Body).WriteTo(discard{})
					resp.Body.Close()
					if resp.StatusCode != 200 {
						failed.Add(1)
						return
					}
					d := time.Since(start)
					served.Add(1)
					apiMu.Lock()
					apiLat = append(apiLat, d)
					apiMu.Unlock()
				}()
			}
		}
	}()

	// The updates: one decision every 100 ms.
	sent := map[int64]time.Time{}
	version := e.siteCOL.Version
	actions := []string{"revisit", "confirm"}
	time.Sleep(500 * time.Millisecond) // the load is running
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf(`{"action":%q,"reason":"bench %d"}`, actions[i%2], i)
		req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/sites/"+e.siteCOL.ID+"/decisions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("If-Match", etag(version))
		at := time.Now()
		resp, err := lc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("decision %d: %d", i, resp.StatusCode)
		}
		version++
		sent[version] = at
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	elapsed := time.Since(start)
	time.Sleep(time.Second) // the last events arrive
	cancel()
	<-loadDone
	e.srv.hub.Close()
	wg.Wait()

	var lat, fan []time.Duration
	missing := 0
	for i := range clients {
		seen := map[int64]bool{}
		for _, r := range got[i] {
			if at, ok := sent[r.version]; ok && !seen[r.version] {
				seen[r.version] = true
				lat = append(lat, r.at.Sub(at))
				fan = append(fan, r.at.Sub(stamp.at[r.version]))
			}
		}
		missing += len(sent) - len(seen)
	}
	if missing > 0 {
		b.Errorf("%d of %d deliveries missing", missing, clients*len(sent))
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(percentile(fan, 0.5)), "fanout-p50-ms")
	b.ReportMetric(ms(percentile(fan, 0.99)), "fanout-p99-ms")
	b.ReportMetric(ms(percentile(lat, 0.5)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(percentile(lat, 1)), "max-ms")
	b.ReportMetric(float64(served.Load())/loadEnd.Sub(loadStart).Seconds(), "api-req/s")
	b.ReportMetric(ms(percentile(apiLat, 0.99)), "api-p99-ms")
	b.ReportMetric(float64(failed.Load()), "api-failed")
	b.ReportMetric(float64(clients), "clients")
	b.Logf("%d updates in %v; %d deliveries; %d API requests", len(sent), elapsed.Round(time.Millisecond), len(lat), served.Load())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// stampPublisher records when each site version was published, then
// hands the event to the hub.
type stampPublisher struct {
	hub *Hub
	mu  sync.Mutex
	at  map[int64]time.Time
}

func (p *stampPublisher) Publish(ctx context.Context, e Event) error {
	if sj, ok := e.Data.(SiteJSON); ok && e.Type == "site" {
		p.mu.Lock()
		p.at[sj.Version] = time.Now()
		p.mu.Unlock()
	}
	return p.hub.Publish(ctx, e)
}

package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Queue names and defaults (docs/pipeline.md).
const (
	DefaultStream   = "ATALAYA_JOBS"
	DefaultSubject  = "atalaya.jobs.granule" // a job's subject: DefaultSubject + "." + granule id
	DefaultConsumer = "atalaya-workers"
)

// Job is a queue message: process this granule. The store holds the truth;
// the job only says which granule to look at.
type Job struct {
	GranuleID string `json:"granule_id"`
	Kind      string `json:"kind"`
	SHA256    string `json:"sha256"`
	URI       string `json:"uri"`
}

// QueueConfig configures the job stream and its consumer.
type QueueConfig struct {
	Stream   string // default DefaultStream
	Subject  string // default DefaultSubject
	Consumer string // durable pull consumer shared by every worker; default DefaultConsumer
	// AckWait is how long a delivered job may go without an ack or a
	// heartbeat before it is delivered again (default 60 s). Workers send
	// heartbeats every AckWait/4, so jobs may take much longer.
	AckWait time.Duration
	// MaxAttempts is how many processing attempts a granule gets, counted
	// in the store (default 5). A worker given a granule that has had them
	// all marks it failed for good (the dead-letter path). The consumer's
	// MaxDeliver is MaxAttempts+1, so the server delivers a job once more
	// after its last attempt for a worker to do that; should that delivery
	// be lost too, DeadLetters acts on the server's advisory.
	MaxAttempts int
	// Duplicates is the de-duplication window for Nats-Msg-Id (default 2 min).
	Duplicates time.Duration
	// Replicas of the stream (default 1; 3 on a NATS cluster).
	Replicas int
	// PublishOnly leaves the consumer alone (ingest only publishes; the
	// consumer's settings are the workers' to make).
	PublishOnly bool
}

func (c *QueueConfig) defaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	if c.Consumer == "" {
		c.Consumer = DefaultConsumer
	}
	if c.AckWait <= 0 {
		c.AckWait = 60 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 2 * time.Minute
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
}

// Queue is the work-queue stream of granule jobs and its consumer.
type Queue struct {
	cfg    QueueConfig
	js     jetstream.JetStream
	stream jetstream.Stream
	cons   jetstream.Consumer
}

// OpenQueue creates or updates the stream and its consumer.
func OpenQueue(ctx context.Context, nc *nats.Conn, cfg QueueConfig) (*Queue, error) {
	cfg.defaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "Atalaya granule jobs (the store is the source of truth; see docs/pipeline.md)",
		Subjects:    []string{cfg.Subject + ".*"},
		// A work queue: a job is removed when a worker acknowledges it.
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Replicas:   cfg.Replicas,
		Duplicates: cfg.Duplicates,
		Discard:    jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("job stream %s: %w", cfg.Stream, err)
	}
	q := &Queue{cfg: cfg, js: js, stream: stream}
	if cfg.PublishOnly {
		return q, nil
	}
	q.cons, err = stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       cfg.Consumer,
		Description:   "Atalaya workers",
		FilterSubject: cfg.Subject + ".*",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxAttempts + 1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Enough for many workers each holding one job.
		MaxAckPending: 10000,
	})
	if err != nil {
		return nil, fmt.Errorf("job consumer %s: %w", cfg.Consumer, err)
	}
	return q, nil
}

// Config is the queue's configuration with defaults filled in.
func (q *Queue) Config() QueueConfig { return q.cfg }

// JetStream is the JetStream context the queue uses.
func (q *Queue) JetStream() jetstream.JetStream { return q.js }

func (q *Queue) subject(granuleID string) string { return q.cfg.Subject + "." + granuleID }

// Publish queues a job and waits for the server to store it. msgID is its
// Nats-Msg-Id: the same id within the Duplicates window is stored once.
// Ingest uses the granule id; the reconciler a fresh id (see Republish).
func (q *Queue) Publish(ctx context.Context, j Job, msgID string) (duplicate bool, err error) {
	b, err := json.Marshal(j)
	if err != nil {
		return false, err
	}
	ack, err := q.js.PublishMsg(ctx, &nats.Msg{Subject: q.subject(j.GranuleID), Data: b}, jetstream.WithMsgID(msgID))
	if err != nil {
		return false, fmt.Errorf("publish job for granule %s: %w", j.GranuleID, err)
	}
	return ack.Duplicate, nil
}

// Pending reports whether a job for the granule is in the stream: waiting,
// or delivered and not yet acknowledged.
func (q *Queue) Pending(ctx context.Context, granuleID string) (bool, error) {
	_, err := q.stream.GetLastMsgForSubject(ctx, q.subject(granuleID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("job of granule %s: %w", granuleID, err)
	}
	return true, nil
}

// Purge deletes every queued job (an operator's tool, and how the tests
// lose messages behind the system's back).
func (q *Queue) Purge(ctx context.Context) error {
	return q.stream.Purge(ctx)
}

// Waiting returns how many jobs are in the stream.
func (q *Queue) Waiting(ctx context.Context) (uint64, error) {
	info, err := q.stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// deleteSeq removes one job by stream sequence (dead letters).
func (q *Queue) deleteSeq(ctx context.Context, seq uint64) (Job, error) {
	var j Job
	m, err := q.stream.GetMsg(ctx, seq)
	if err != nil {
		return j, fmt.Errorf("job %d: %w", seq, err)
	}
	if err := json.Unmarshal(m.Data, &j); err != nil {
		return j, fmt.Errorf("job %d: %w", seq, err)
	}
	if err := q.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return j, fmt.Errorf("delete job %d: %w", seq, err)
	}
	return j, nil
}

// maxDeliveriesSubject is the advisory the server sends when a job has been
// delivered MaxDeliver times without an ack.
func (q *Queue) maxDeliveriesSubject() string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + q.cfg.Stream + "." + q.cfg.Consumer
}

// republishID is the Nats-Msg-Id of a republished job: unique per call, so
// the de-duplication window never swallows a job the reconciler knows is
// missing.
func republishID(granuleID string, now time.Time) string {
	return granuleID + ".r" + strconv.FormatInt(now.UnixNano(), 36)
}

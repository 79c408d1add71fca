// Package pipeline owns Atalaya's jobs and workers: granule bytes where
// every worker can read them (Blobs: a local folder, or the NATS JetStream
// object store), a work-queue stream of granule jobs on JetStream (an
// embedded NATS server by default, or an external cluster), workers that
// run detection on each granule and commit the results to the store, and a
// reconciler.
//
// Invariants:
//
//   - The store is the source of truth, never the queue. A granule is
//     recorded (store.PutGranule, status recorded) before its job is
//     published; a worker decides what to do from the granule's status in
//     the store, not from the message; the reconciler republishes the job
//     of any granule that is unfinished and has no job in the stream. A lost
//     message delays work and never loses it.
//   - A job is acknowledged only after its results are committed
//     (store.CompleteGranule, one transaction). A worker that dies before
//     that leaves the job to be redelivered (after AckWait) to another.
//   - Processing is idempotent: a job for a done granule is acknowledged
//     without work, and completing a done granule changes nothing, so a
//     granule's detections are written exactly once however often its job
//     is delivered.
//   - A granule gets at most QueueConfig.MaxAttempts processing attempts
//     (counted in the store); then it is failed with an error starting
//     DeadPrefix (the dead-letter path) and left alone.
//   - The embedded server fsyncs every write before acknowledging it
//     (SyncAlways): see the Jepsen note in nats.go.
//
// Units: durations are time.Duration; sizes are bytes. docs/pipeline.md
// describes the subjects, stream and consumer configuration, blob layout
// and failure modes.
package pipeline

// Package pool is poolkit's engine: a generic pool of resources (database
// connections, HTTP connections, clients of any kind) with the behaviour
// that services need on a bad day.
//
// A [Pool] lends resources of one type, created by [Config.Create]:
//
//   - never more than MaxSize exist, counting those being created and
//     destroyed; MinSize are kept open in the background;
//   - callers that find nothing idle wait in line (first come, first
//     served) and a released resource goes straight to the oldest of them;
//     Config.MaxWaiters bounds the line;
//   - Acquire's ctx bounds the whole wait; AcquireTimeout applies when ctx
//     has no deadline; a timeout says what the pool looked like, the last
//     Create error and, with leak detection on, where the longest holder
//     acquired;
//   - Create failures back off exponentially and, while they last, only one
//     Create runs at a time: a dead backend does not make the pool spin, and
//     the waiting caller gets the Create error;
//   - resources retire at MaxLifetime minus a random jitter (never while in
//     use) and after IdleTimeout (never below MinSize);
//   - Check runs on Acquire after CheckAfterIdle of idleness and every
//     HealthCheckPeriod in the background; when it (or a holder's Destroy)
//     finds a dead resource, every idle resource open at that moment is
//     suspect and checked before it is lent, so a backend restart costs
//     callers latency, not errors;
//   - a [Budget] caps the open resources of several pools together;
//   - [Pool.Stats] is a cheap, consistent snapshot and an [Observer] gets
//     every event, for metrics.
//
// The fast path (a resource is idle) takes one mutex twice and does not
// allocate; see the benchmarks module for measurements against
// jackc/puddle, database/sql and a buffered channel.
package pool

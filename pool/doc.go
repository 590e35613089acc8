// Package pool is poolkit's engine: a generic pool of resources (database
// connections, HTTP connections, clients of any kind) with the behaviour
// that services need on a bad day.
//
// A [Pool] lends resources of one type, created by [Config.Create]:
//
//   - never more than MaxSize exist, counting those being created and
//     destroyed; MinSize are kept open in the background; both change at
//     run time ([Pool.SetMaxSize], [Pool.SetMinSize]), and lowering MaxSize
//     never takes a resource from its holder;
//   - callers that find nothing idle wait in line (first come, first
//     served) and a released resource goes straight to the oldest of them;
//     Config.MaxWaiters bounds the line;
//   - an Acquire's deadline is set once, on entry: its ctx's, or
//     AcquireTimeout from then when that is sooner; it bounds waiting,
//     checking and creating. A timeout says what the pool looked like, the
//     last Create error, whether a shared budget was the limit and, with
//     leak detection on, where the longest holder acquired;
//   - Create failures back off exponentially (at most 10 attempts a
//     second, and at least one a second while callers ask) and, while they
//     last, only one Create runs at a time. A pool with nothing open fails
//     its callers at once with the Create error instead of letting them
//     wait out their deadline;
//   - resources retire at MaxLifetime minus a random jitter (never while in
//     use) and after IdleTimeout (never below MinSize);
//   - Check runs before a resource is lent when it has been idle longer
//     than CheckAfterIdle, on every path (idle, handed over, new), and
//     every HealthCheckPeriod in the background; when it (or a holder's
//     Destroy) finds a dead resource, every idle resource open at that
//     moment is suspect and checked before it is lent, so a backend restart
//     costs callers latency, not errors;
//   - [Pool.Do] lends a resource to a function and gives it back, or
//     destroys it when the function panics or says it is broken
//     ([IsBroken]);
//   - a [Budget] (or any [SharedBudget], such as a fleet's) caps the open
//     resources of several pools together; its size changes at run time;
//   - [Pool.Stats] is a cheap, consistent snapshot and an [Observer] gets
//     every event, with the pool's name and the caller's ctx, for metrics
//     and tracing.
//
// The code is laid out by concern: pool.go holds the API and Acquire
// (take an idle resource, else wait in line; check it when due); the
// resource and its states are in resource.go, the wait queue in
// waitqueue.go, the idle stack in idle.go, creators and their backoff in
// create.go, the check rule in check.go, the clock in clock.go and the
// background work in maintain.go.
//
// The fast path (a resource is idle) takes one mutex twice and does not
// allocate; see the benchmarks module for measurements against
// jackc/puddle, database/sql and a buffered channel.
package pool

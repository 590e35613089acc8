// Package fleet coordinates the processes of a fleet (the pods of one
// service, say) through Redis, so that they behave as one client of the
// servers they share:
//
//   - [Budget] is a [pool.SharedBudget] kept in Redis: every pool in every
//     process that uses the same budget name shares one cap on open
//     connections. Set it as the Budget of a pool.Config, sqlpool.Config or
//     httpclient's transport. Each connection holds an expiring lease in a
//     Redis sorted set, counted atomically by a Lua script and renewed in
//     one batched call per process; a crashed process's leases expire;
//     a starved process makes the others give back idle connections above
//     their fair share; without Redis each process keeps to a documented
//     local share (see [Budget] for the worst case during a partition).
//   - [Breakers] shares circuit-breaker state: a breaker that opens in one
//     process opens the same service's breakers in the others (pub/sub and
//     a state key with an expiry), and one process at a time probes a
//     recovering service. The request path never calls Redis: every
//     breaker decides from memory, as package breaker does alone.
//
// The other engine for capping a fleet's database connections is a proxy
// such as PgBouncer in transaction mode; the README's "Running a fleet"
// section says when to pick which.
//
// The client is github.com/redis/go-redis/v9 (any [redis.UniversalClient]:
// a single node, Sentinel or Cluster; every key of one budget or service
// shares a hash slot). Only this package imports it.
package fleet

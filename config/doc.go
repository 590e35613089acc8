// Package config loads the connection settings of a service from a file:
// HTTP downstreams (httpclient) and SQL databases (sqlpool), in YAML or
// JSON, with overrides from the environment. It is the only place poolkit
// reads files; httpclient and sqlpool take plain structs and do not import
// a YAML library.
//
// # The file
//
//	# poolkit.yaml
//	defaults:                 # every service, under its own settings
//	  preset: steady          # low, steady or bursty (see httpclient.Preset)
//	  timeout: 3s
//	  retry:
//	    max_attempts: 3
//	    initial_backoff: 50ms
//
//	services:
//	  payment:
//	    base_url: https://payment.internal/v1/
//	    breaker:
//	      open_timeout: 30s
//	      consecutive_failures: 5
//	  inventory:
//	    base_url: https://inventory.internal/
//	    preset: bursty
//	    transport:
//	      max_size: 64
//	      acquire_timeout: 2s
//	  notification:
//	    base_url: http://notify:8080/
//	    preset: low
//	    retry:
//	      disabled: true
//
//	database_defaults:        # every database, under its own settings
//	  driver: pgx
//	  connect_timeout: 5s
//
//	databases:
//	  main:
//	    dsn: postgres://app@db.internal:5432/app   # better: from the environment
//	    min_size: 2
//	    max_size: 16
//	    idle_timeout: 5m
//	    max_lifetime: 30m
//	    acquire_timeout: 2s
//	    check_query: SELECT 1
//	  cache:
//	    driver: sqlite
//	    dsn: file:cache.db
//	    max_size: 4
//
// The same file in JSON has the same keys ({"defaults": {...}, "services":
// {...}}).
//
// Keys are the Go field names of [httpclient.Config] and [sqlpool.Config]
// in snake_case (MaxSize: max_size, BaseURL: base_url), nested as the
// structs are (Transport.MaxSize: transport.max_size), with three
// exceptions: DisableBreaker is breaker.disabled, DisableRetry is
// retry.disabled, and RetryBudget is retry.budget (its DisableRetryBudget
// retry.budget.disabled). A database also has driver and dsn; its
// sqlpool.Config fields sit beside them. Durations are strings with a
// unit ("2s", "500ms", "1m30s"); sizes and counts are integers; a value
// written as null is not written. Unknown keys are errors.
//
// # Layers
//
// Each service's config is built in layers, each overriding the one before
// field by field (a field written in a layer wins, one left out
// inherits): the plain defaults; the preset (the service's own, else the
// one in defaults); the fields written in defaults; the fields written for
// the service. So anything written explicitly beats a preset, and a
// service beats the shared defaults. Databases layer the same way, without
// presets: database_defaults, then the database's own fields.
//
// # Environment overrides
//
// After the file is read, every environment variable named
//
//	POOLKIT__<SEGMENT>__<SEGMENT>__...=value
//
// sets the value at the path its segments name: the segments are the keys
// of the file, separated by two underscores and matched without regard to
// case, with '-' and '.' in a service or database name written as '_'.
// Single underscores belong to the keys (max_size), so the rule is never
// ambiguous:
//
//	POOLKIT__SERVICES__PAYMENT__TRANSPORT__MAX_SIZE=32
//	POOLKIT__SERVICES__PAYMENT__TIMEOUT=2s
//	POOLKIT__DEFAULTS__PRESET=bursty
//	POOLKIT__DATABASES__MAIN__DSN=postgres://app:secret@db.internal/app
//
// A variable may add a key the file lacks, a service or database included
// (named by its segment in lower case). Values are read as the field
// requires: durations as "2s", integers, booleans as strconv.ParseBool
// reads them, strings as they are. Overrides apply before the layers, so
// POOLKIT__DEFAULTS__TIMEOUT reaches every service that does not set its
// own timeout. A variable that names no field, or holds a bad value, is
// an error that names it. [Loader.EnvPrefix] changes the prefix;
// [Loader.NoEnv] turns overrides off.
//
// # Errors
//
// [Load] and [Loader.Parse] report every problem at once, each an *[Error]
// that gives the file, the line and the path as written in the file:
//
//	poolkit.yaml:12: services.payment.transport.max_sise: unknown field (did you mean max_size?)
//	poolkit.yaml:7: services.payment.timeout: invalid duration "2x": write it with a unit, like "2s", "500ms" or "1m30s"
//	poolkit.yaml:9: services.inventory.transport.min_size: 4, set by preset "bursty": must be <= max_size (2)
//	env POOLKIT__SERVICES__PAYMENT__RETRY__MAX_ATTEMPTS: services.payment.retry.max_attempts: want an integer, got "x"
//
// The products' validation (httpclient.Config.Validate,
// sqlpool.Config.Validate) runs at load, and its errors
// point at the line that set the refused value; the product's own error
// is kept inside (errors.As finds a *httpclient.ClientConfigError).
//
// # Metrics, observers and other code-only settings
//
// A file holds data only. Fields that are code (Telemetry, Observer,
// Budget, Logger, TLSClientConfig, Proxy, DialContext, classifiers) are
// never read from it. [Loader.Telemetry] sets one Telemetry on every
// service and database loaded; set the others on the loaded configs
// before building anything:
//
//	f, err := config.Loader{Telemetry: metrics.For(reg)}.Load("poolkit.yaml")
//	if err != nil {
//		log.Fatal(err) // every problem, one per line
//	}
//	for name, c := range f.Services {
//		c.Transport.TLSClientConfig = tlsConf // or an observer, a shared budget
//		f.Services[name] = c
//	}
//	clients, err := f.Clients()
//	...
//	db, err := f.OpenDB("main")
package config

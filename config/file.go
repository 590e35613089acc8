package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/httpclient"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/retry"
	"github.com/poolkit/poolkit/sqlpool"
	"github.com/poolkit/poolkit/telemetry"
)

// File is a loaded configuration: plain data, every field as the products
// define it, ready to adjust in code before use. Nothing in it comes from
// code-only fields (metrics registerers, observers, budgets, loggers, TLS
// configs): set those on the configs after loading.
type File struct {
	// Services holds one httpclient.Config per service, keyed by name,
	// with Config.Name set to it.
	Services map[string]httpclient.Config

	// Databases holds one Database per database, keyed by name, with
	// Config.Name set to it.
	Databases map[string]Database
}

// Database is one entry of the "databases" section: a driver, a DSN, and
// the sqlpool.Config fields written beside them.
type Database struct {
	// Driver is the database/sql driver name, as registered by the
	// driver's package ("pgx", "mysql", "sqlite"). Required.
	Driver string `config:"driver"`

	// DSN is the driver's data source name. It often carries a password:
	// set it from the environment (see the package doc) rather than in
	// the file. Zero: "" (some drivers, pgx among them, then read their
	// own environment variables).
	DSN string `config:"dsn"`

	// Config is the connector's configuration; its fields are written
	// beside driver and dsn, not under a key of their own.
	Config sqlpool.Config `config:",inline"`
}

// Loader reads configuration files. Its zero value reads the environment
// of the process with DefaultEnvPrefix.
type Loader struct {
	// Format is the file's syntax. Zero: FormatAuto.
	Format Format

	// EnvPrefix starts the names of the variables that override the file
	// (see the package doc). Zero: DefaultEnvPrefix.
	EnvPrefix string

	// Environ is the environment, as os.Environ returns it. Zero (nil):
	// os.Environ().
	Environ []string

	// NoEnv turns environment overrides off.
	NoEnv bool

	// Telemetry, when set, is the Telemetry of every service and database
	// the loaded File holds (httpclient.Config.Telemetry,
	// sqlpool.Config.Telemetry), e.g. metrics.For(reg): a file holds data
	// only, so this is how one backend reaches everything it describes.
	// Zero: none (set it per config on the File, if you like).
	Telemetry telemetry.Telemetry
}

// Load reads the file at path with a zero [Loader]: its format from its
// name, overrides from the process's environment.
func Load(path string) (*File, error) { return Loader{}.Load(path) }

// Load reads the file at path. See [Loader.Parse].
func (l Loader) Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return l.Parse(path, data)
}

// Parse reads a configuration from data, which came from the file called
// name (used in errors and to pick the format), applies the environment
// overrides, and builds every service's and database's config: plain
// defaults, then the preset (the service's own, else the one in
// "defaults"), then the fields written in "defaults", then those written
// for the service, each layer overriding the one before field by field.
// Every config is validated ([httpclient.Config.Validate],
// [sqlpool.Config.Validate]).
//
// On failure it returns nil and every *[Error] found, joined and sorted
// (see [Error]); nothing partial.
func (l Loader) Parse(name string, data []byte) (*File, error) {
	d := &decoder{file: name, env: map[*yaml.Node]string{}}
	root, perr := parse(name, data, l.Format)
	if perr != nil {
		return nil, joinErrors([]*Error{perr})
	}
	if !l.NoEnv {
		env := l.Environ
		if env == nil {
			env = os.Environ()
		}
		prefix := l.EnvPrefix
		if prefix == "" {
			prefix = DefaultEnvPrefix
		}
		root = applyEnv(root, env, prefix, d)
	}

	var sec struct{ defaults, services, dbDefaults, databases *yaml.Node }
	top, _ := d.mapping(root, "", "with keys "+strings.Join(topKeys, ", "))
	for _, p := range top {
		switch p.k.Value {
		case "defaults":
			sec.defaults = p.v
		case "services":
			sec.services = p.v
		case "database_defaults":
			sec.dbDefaults = p.v
		case "databases":
			sec.databases = p.v
		default:
			reason := "unknown field (the top level has " + strings.Join(topKeys, ", ") + ")"
			d.fail(p.k, p.k.Value, reason, ErrUnknownField)
		}
	}
	f := &File{
		Services:  d.services(sec.defaults, sec.services),
		Databases: d.databases(sec.dbDefaults, sec.databases),
	}
	if err := joinErrors(d.errs); err != nil {
		return nil, err
	}
	if l.Telemetry != nil {
		for name, c := range f.Services {
			c.Telemetry = l.Telemetry
			f.Services[name] = c
		}
		for name, db := range f.Databases {
			db.Config.Telemetry = l.Telemetry
			f.Databases[name] = db
		}
	}
	return f, nil
}

var topKeys = []string{"defaults", "services", "database_defaults", "databases"}

// serviceSchema is what "defaults" and each service may hold: the data
// fields of httpclient.Config, and "preset".
var serviceSchema = func() *schema {
	// The service's name is its key; the client names its transport.
	s := newSchema(reflect.TypeFor[httpclient.Config](), "Name", "Transport.Name")
	s.add(&entry{key: "preset", goName: "preset", typ: reflect.TypeFor[httpclient.Preset]()})
	return s
}()

// databaseSchema is what "database_defaults" and each database may hold.
// sqlpool's deprecated, ignored connect-breaker fields are not keys: a file
// that sets them gets "unknown field", not a setting that does nothing.
var databaseSchema = newSchema(reflect.TypeFor[Database](), "Name", "Breaker", "DisableBreaker")

// services builds the service configs.
func (d *decoder) services(defaults, services *yaml.Node) map[string]httpclient.Config {
	defs := d.group(serviceSchema, defaults, "defaults", nil)
	entries, _ := d.mapping(services, "services", "of service names")
	out := make(map[string]httpclient.Config, len(entries))
	for _, p := range entries {
		name, path := p.k.Value, join("services", p.k.Value)
		if name == "" {
			d.fail(p.k, path, "a service needs a name", nil)
			continue
		}
		own := d.group(serviceSchema, p.v, path, nil)
		preset, presetAt, hasPreset := presetOf(own)
		if !hasPreset {
			preset, presetAt, hasPreset = presetOf(defs)
		}
		c, err := preset.Config(name, "")
		if err != nil {
			d.errs = append(d.errs, presetAt.error(d.file, err.Error(), err))
			continue
		}
		from := map[string]origin{}
		apply(reflect.ValueOf(&c).Elem(), defs, from)
		apply(reflect.ValueOf(&c).Elem(), own, from)
		c.Name = name
		if err := c.Validate(); err != nil {
			vs := validation{d: d, s: serviceSchema, section: path, key: p.k, from: from}
			if hasPreset && preset != "" {
				vs.preset, vs.presetAt = string(preset), &presetAt
			}
			vs.report(err)
			continue
		}
		out[name] = c
	}
	return out
}

// presetOf returns the preset that as sets, if any.
func presetOf(as []assign) (httpclient.Preset, origin, bool) {
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].e.key == "preset" && as[i].e.index == nil {
			return as[i].v.Interface().(httpclient.Preset), as[i].at, true
		}
	}
	return "", origin{}, false
}

// databases builds the database configs.
func (d *decoder) databases(defaults, databases *yaml.Node) map[string]Database {
	defs := d.group(databaseSchema, defaults, "database_defaults", nil)
	entries, _ := d.mapping(databases, "databases", "of database names")
	out := make(map[string]Database, len(entries))
	for _, p := range entries {
		name, path := p.k.Value, join("databases", p.k.Value)
		if name == "" {
			d.fail(p.k, path, "a database needs a name", nil)
			continue
		}
		own := d.group(databaseSchema, p.v, path, nil)
		var db Database
		from := map[string]origin{}
		apply(reflect.ValueOf(&db).Elem(), defs, from)
		apply(reflect.ValueOf(&db).Elem(), own, from)
		db.Config.Name = name
		if db.Driver == "" {
			d.fail(p.k, join(path, "driver"), "required: the database/sql driver name, such as pgx, mysql or sqlite", nil)
			continue
		}
		if err := db.Config.Validate(); err != nil {
			validation{d: d, s: databaseSchema, section: path, key: p.k, from: from}.report(err)
			continue
		}
		out[name] = db
	}
	return out
}

// fieldError is a refused value of the Go field goName, relative to the
// section's struct.
type fieldError struct {
	goName string
	value  any
	reason string
}

func (e *fieldError) Error() string { return fmt.Sprintf("%s = %v: %s", e.goName, e.value, e.reason) }

// asFieldError reads the field, value and reason of the validation errors
// of the products and policies, or returns nil.
func asFieldError(err error) *fieldError {
	var (
		fe *fieldError
		ce *httpclient.ClientConfigError
		se *sqlpool.ConfigError
		pe *pool.ConfigError
		be *breaker.SettingsError
		re *retry.PolicyError
	)
	switch {
	case errors.As(err, &fe):
		return fe
	case errors.As(err, &ce):
		return &fieldError{ce.Field, ce.Value, ce.Reason}
	case errors.As(err, &se):
		if se.Err != nil {
			if inner := asFieldError(se.Err); inner != nil {
				return &fieldError{se.Field + "." + inner.goName, inner.value, inner.reason}
			}
		}
		return &fieldError{se.Field, se.Value, se.Reason}
	case errors.As(err, &pe):
		return &fieldError{pe.Field, pe.Value, pe.Reason}
	case errors.As(err, &be):
		return &fieldError{be.Field, be.Value, be.Reason}
	case errors.As(err, &re):
		return &fieldError{re.Field, re.Value, re.Reason}
	}
	return nil
}

// error returns an *Error at o.
func (o origin) error(file, reason string, err error) *Error {
	return &Error{File: file, Line: o.line, Env: o.env, Path: o.path, Reason: reason, Err: err}
}

// validation reports a section's validation errors at the place in the
// file (or the variable) that set the refused value.
type validation struct {
	d        *decoder
	s        *schema
	section  string // "services.pay"
	key      *yaml.Node
	from     map[string]origin // Go field: where its value was written
	preset   string
	presetAt *origin
}

func (v validation) report(err error) {
	for _, e := range flatten(err) {
		fe := asFieldError(e)
		if fe == nil {
			v.d.errs = append(v.d.errs, &Error{File: v.d.file, Line: v.key.Line, Path: v.section, Reason: e.Error(), Err: e})
			continue
		}
		ent, rel := v.s.byGoName(fe.goName)
		path := v.section
		if rel != "" {
			path += "." + rel
		}
		reason := fmt.Sprintf("%v: %s", fe.value, v.rename(fe.reason, ent))
		if o, ok := v.from[fe.goName]; ok {
			if !strings.HasPrefix(o.path, v.section+".") {
				reason += fmt.Sprintf(" (in %s)", v.section)
			}
			v.d.errs = append(v.d.errs, o.error(v.d.file, reason, e))
			continue
		}
		at := origin{path: path, line: v.key.Line}
		if _, env := v.d.env[v.key]; env {
			at.env = v.d.env[v.key]
		}
		if v.presetAt != nil {
			reason = fmt.Sprintf("%v, set by preset %q: %s", fe.value, v.preset, v.rename(fe.reason, ent))
			at.line, at.env = v.presetAt.line, v.presetAt.env
		} else {
			reason = fmt.Sprintf("%v (not written: the default): %s", fe.value, v.rename(fe.reason, ent))
		}
		v.d.errs = append(v.d.errs, at.error(v.d.file, reason, e))
	}
}

var goWord = regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*\b`)

// rename writes, in a validation message, the Go names of the fields
// beside ent as they are written in the file ("must be <= MaxSize" reads
// "must be <= max_size").
func (v validation) rename(reason string, ent *entry) string {
	if ent == nil {
		return reason
	}
	parent := ent.goName[:strings.LastIndex(ent.goName, ".")+1]
	return goWord.ReplaceAllStringFunc(reason, func(w string) string {
		if sib, _ := v.s.byGoName(parent + w); sib != nil {
			return sib.key
		}
		return w
	})
}

// flatten returns the errors joined in err.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

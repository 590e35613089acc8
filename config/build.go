package config

import (
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/poolkit/poolkit/httpclient"
	"github.com/poolkit/poolkit/sqlpool"
)

// Clients returns one client per service of f (see [httpclient.NewClients]).
// Set code-only fields (metrics, observers, TLS roots) on f.Services
// first.
func (f *File) Clients() (*httpclient.Clients, error) {
	return httpclient.NewClients(f.Services)
}

// ServiceNames returns the names of the services, sorted.
func (f *File) ServiceNames() []string { return slices.Sorted(maps.Keys(f.Services)) }

// DatabaseNames returns the names of the databases, sorted.
func (f *File) DatabaseNames() []string { return slices.Sorted(maps.Keys(f.Databases)) }

// Connector returns the connector of the database called name (see
// [sqlpool.NewConnectorDSN]); its driver must be registered (imported).
// Set code-only fields on f.Databases[name].Config first.
//
// On failure (no such database, or the connector's own error) it returns
// an error naming the database.
func (f *File) Connector(name string) (*sqlpool.Connector, error) {
	db, ok := f.Databases[name]
	if !ok {
		return nil, fmt.Errorf("config: no database %q (have %q)", name, f.DatabaseNames())
	}
	return sqlpool.NewConnectorDSN(db.Driver, db.DSN, db.Config)
}

// OpenDB returns a *sql.DB on the connector of the database called name
// (see [File.Connector] and [sqlpool.Connector.DB]). Closing the *sql.DB
// closes the connector.
func (f *File) OpenDB(name string) (*sql.DB, error) {
	c, err := f.Connector(name)
	if err != nil {
		return nil, err
	}
	return c.DB(), nil
}

// Package lean holds tests, and nothing else, that keep poolkit's core
// lean: the core packages link no metrics backend, driver or Redis
// client, and a program on httpclient stays close to the size of the
// same program on net/http.
package lean

package config_test

import (
	"fmt"

	"github.com/poolkit/poolkit/config"
)

func Example() {
	file := []byte(`
defaults:
  preset: steady
  timeout: 3s
services:
  payment:
    base_url: https://payment.internal/v1/
    breaker: {open_timeout: 30s}
  inventory:
    base_url: https://inventory.internal/
    preset: bursty
    transport: {max_size: 64}
databases:
  main:
    driver: pgx
    max_size: 16
`)
	l := config.Loader{Environ: []string{
		"POOLKIT__SERVICES__PAYMENT__TRANSPORT__MAX_SIZE=8",
		"POOLKIT__DATABASES__MAIN__DSN=postgres://app:secret@db.internal/app",
	}}
	f, err := l.Parse("poolkit.yaml", file)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range f.ServiceNames() {
		c := f.Services[name]
		fmt.Printf("%s: max_size=%d timeout=%v open_timeout=%v\n", name, c.Transport.MaxSize, c.Timeout, c.Breaker.OpenTimeout)
	}
	db := f.Databases["main"]
	fmt.Printf("main: driver=%s max_size=%d\n", db.Driver, db.Config.MaxSize)
	// Output:
	// inventory: max_size=64 timeout=3s open_timeout=5s
	// payment: max_size=8 timeout=3s open_timeout=30s
	// main: driver=pgx max_size=16
}

func Example_errors() {
	file := []byte(`services:
  payment:
    timeout: 2x
    transport:
      max_sise: 3
`)
	_, err := config.Loader{Environ: []string{"POOLKIT__SERVICES__PAYMENT__RETRY__MAX_ATTEMPTS=many"}}.Parse("poolkit.yaml", file)
	fmt.Println(err)
	// Output:
	// poolkit.yaml:3: services.payment.timeout: invalid duration "2x": write it with a unit, like "2s", "500ms" or "1m30s"
	// poolkit.yaml:5: services.payment.transport.max_sise: unknown field (did you mean max_size?)
	// env POOLKIT__SERVICES__PAYMENT__RETRY__MAX_ATTEMPTS: services.payment.retry.max_attempts: want an integer, got "many"
}

module github.com/poolkit/poolkit/benchmarks

go 1.26.0

replace github.com/poolkit/poolkit => ../

require (
	github.com/jackc/puddle/v2 v2.2.3
	github.com/poolkit/poolkit v0.0.0-00010101000000-000000000000
)

require (
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/sync v0.24.0 // indirect
)

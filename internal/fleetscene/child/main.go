// Command child is a fleet scene child process, built without the race
// detector so that the scene measures the library, not the detector's
// overhead; tests that run under -race build and start it (see
// fleetscene.BuildChild).
package main

import (
	"fmt"
	"os"

	"github.com/poolkit/poolkit/internal/fleetscene"
)

func main() {
	code, ok := fleetscene.Child()
	if !ok {
		fmt.Fprintln(os.Stderr, "child: run by fleetscene only ("+fleetscene.EnvChild+" unset)")
		os.Exit(2)
	}
	os.Exit(code)
}

package fleetscene

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// BuildChild builds the scene's child program (without the race detector)
// into dir and returns its path. Tests built with -race use it, so that the
// children measure the library rather than the detector's overhead (which
// slows them several times and unevenly). It needs the go command, found
// on PATH (or at /usr/local/go/bin/go), and runs inside this module.
func BuildChild(ctx context.Context, dir string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = "/usr/local/go/bin/go" // this project's machines
	}
	out := filepath.Join(dir, "fleetscene-child")
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", out, "github.com/poolkit/poolkit/internal/fleetscene/child")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("fleetscene: building the child program: %v\n%s", err, b)
	}
	return out, nil
}

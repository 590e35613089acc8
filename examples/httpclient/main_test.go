package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/poolkit/poolkit/httpclient"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), defaultServices, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	// inventory overrides its preset's MaxSize (128) with 64; notification
	// takes the low preset's 4 and has retries off.
	for _, want := range []string{"inventory", "64", "notification", "off", "800 calls"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestBadFile shows the error a misspelt field gives: it names the field.
func TestBadFile(t *testing.T) {
	bad := []byte(`{"services": {"payment": {"retry": {"initial_backof": "1s"}}}}`)
	err := run(context.Background(), bad, new(strings.Builder))
	var fe *httpclient.FileError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "initial_backof") {
		t.Fatalf("err = %v; want a *FileError naming initial_backof", err)
	}
}

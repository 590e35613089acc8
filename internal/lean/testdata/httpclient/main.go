// Command httpclient GETs a URL through httpclient.NewTransport, as a user
// of the pooled transport would, for the binary-size test of package lean.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/poolkit/poolkit/httpclient"
)

func main() {
	tr, err := httpclient.NewTransport(httpclient.TransportConfig{MaxSize: 8})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer tr.Close()
	get(&http.Client{Transport: tr}, os.Args[1])
}

func get(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	fmt.Println(resp.Status, n)
}

// Command nethttp is testdata/httpclient on net/http's own Transport: the
// baseline of the binary-size test of package lean.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	tr := &http.Transport{MaxConnsPerHost: 8, MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
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

// Package browsertest runs a headless Chromium for end-to-end tests, off the network, and serves
// a page that records what an EventSource sees: the harness of gateway's browser tests and of
// cmd/streamgate's cluster EventSource test.
//
// It owns the browser process (started per test, killed in its cleanup) and the recording page;
// it is not on the data path, and it is for _test.go files only. It must not import anything from
// streamgate, so that the tests of any package, gateway's included, may use it without bending
// that package's import rules.
package browsertest

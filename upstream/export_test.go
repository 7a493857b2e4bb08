package upstream

import "net/http"

// NewPipeTransport returns the in-process transport the simulator uses, serving requests with h,
// for the external tests that run a fake on a synctest bubble's clock.
func NewPipeTransport(h http.Handler) http.RoundTripper { return &pipeTransport{handler: h} }

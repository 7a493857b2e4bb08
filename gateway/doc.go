// Package gateway is the HTTP face of streamgate and the last hop of the data path.
//
// It owns the Gin routes, SSE writing, the subscription lifecycle and request limits. It imports
// every other package (manager, upstream, auth); nothing imports it except cmd/streamgate.
package gateway

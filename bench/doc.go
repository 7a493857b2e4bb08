// Package bench compares streamgate's SSE parser (upstream/sse) with other Go SSE parsers on the
// same inputs in one `go test -bench` run. It is a separate module so that the main module does
// not depend on the parsers it is compared with; see README.md for the command.
package bench

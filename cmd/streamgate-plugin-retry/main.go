// Command streamgate-plugin-retry is a streamgate error-handler plugin driven by rules.
//
// Configuration (the `config` block of its entry in the gateway's `plugins` list):
//
//	rules:
//	  - codes: [503, 429]         # match the error's code or the upstream's HTTP status (any when empty)
//	    statuses: [UNAVAILABLE]   # match the error's status name (any when empty)
//	    phase: upstream           # upstream | delivery (any when empty)
//	    action: retry             # retry | terminate | skip | defer
//	    max_attempts: 3           # retry: attempts in all, default 3; then terminate
//	    backoff: 200ms            # retry: first delay, doubled per attempt, default 200ms
//	    max_backoff: 10s          # retry: cap, default 10s
//	  - codes: [400]
//	    action: terminate
//	    message: "The request was rejected."   # replaces the upstream's message
//
// The first rule that matches decides; when none does the plugin defers to the next handler.
// Retry delays use equal jitter: half the delay plus a random share of the other half. A retry rule
// whose attempts are used up terminates, with its message when it has one, so that upstream
// details stay hidden from callers.
package main

import "github.com/streamgate/streamgate/plugins/sdk"

func main() {
	sdk.Serve(sdk.Info{
		Name:        "retry",
		Version:     "1.0.0",
		Description: `Decides upstream and delivery errors by rules. Config: {"rules": [{"codes", "statuses", "phase", "action", "max_attempts", "backoff", "max_backoff", "message"}]}.`,
	}, sdk.WithErrorHandler(&handler{}))
}

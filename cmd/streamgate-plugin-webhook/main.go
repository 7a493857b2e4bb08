// Command streamgate-plugin-webhook is a streamgate transport plugin that POSTs the chunks of each
// stream it is attached to, in batches, as JSON to a URL, retrying with exponential backoff.
//
// Configuration (the `config` block of its entry in the gateway's `plugins` list):
//
//	url:                    where to POST (required, http or https)
//	headers:                extra request headers, e.g. {"Authorization": "Bearer ..."}
//	timeout:                per request, default "10s"
//	max_attempts:           per batch, default 5
//	initial_backoff:        default "200ms"; doubles, with jitter, up to max_backoff
//	max_backoff:            default "5s"
//	allow_subscription_url: let a subscription's own config set "url" (default false)
//
// A subscription may add "headers" (the configured ones win), and set "url" when allowed. Each batch is one request:
//
//	{"stream_id":"s1","stream_instance":"...","subscription_id":"...","metadata":{"model":"...","tenant":"..."},
//	 "chunks":[{"id":1,"event":"","data":{...},"time":"2025-01-02T03:04:05.123Z"}]}
//
// and the end of the stream is a last request {"stream_id","stream_instance","subscription_id",
// "metadata","closed":true,"reason","error"?}. A stream ID can be used again once its stream was
// forgotten, by another tenant too: stream_instance, unique per creation, tells such streams apart. A 2xx answer acknowledges the batch; network errors, 429 and
// 5xx are retried; any other status, or running out of attempts, rejects the batch and the gateway's
// error handlers decide what follows.
package main

import "github.com/streamgate/streamgate/plugins/sdk"

func main() {
	sdk.Serve(sdk.Info{
		Name:        "webhook",
		Version:     "1.0.0",
		Description: `POSTs batches of chunks as JSON to a URL with retries. Config: {"url", "headers", "timeout", "max_attempts", "initial_backoff", "max_backoff", "allow_subscription_url"}.`,
	}, sdk.WithTransport(&transport{}))
}

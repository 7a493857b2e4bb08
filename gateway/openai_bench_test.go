package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// openAITargets returns the ways to stream a chat completion from the fake's OpenAI-compatible
// endpoint, as latencyTargets does for the Gemini route: directly, through a plain
// httputil.ReverseProxy that swaps the bearer key, through the same proxy with one goroutine
// hand-off (hopTransport), and through the gateway's /v1/chat/completions. It returns the fake
// too, for the scripts to queue: the fake answers an OpenAI request without one by itself.
func openAITargets(b *testing.B, wrap func(http.Handler) http.Handler) ([]*target, *upstreamtest.Fake) {
	b.Helper()
	e := newEnv(b, options{
		quiet:   true,
		wrap:    wrap,
		manager: func(c *manager.Config) { c.RetainClosed = time.Second },
		gateway: func(c *gateway.Config) { c.Heartbeat = 0 },
	})
	newClient := func() *http.Client {
		tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
		b.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	const fakePath = "/v1beta/openai/chat/completions"
	proxyTransport := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	hopTransport := hopTransport{&http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	return []*target{
		{name: "direct", url: e.fakeURL + fakePath, key: upstreamKey, client: newClient()},
		{name: "proxy", url: serveOpenAIProxy(b, e.fakeURL, proxyTransport) + fakePath, key: aliceKey, client: newClient()},
		{name: "hop", url: serveOpenAIProxy(b, e.fakeURL, hopTransport) + fakePath, key: aliceKey, client: newClient()},
		{name: "gateway", url: e.url + "/v1/chat/completions", key: aliceKey, client: newClient()},
	}, e.fake
}

// serveOpenAIProxy is serveProxy for an OpenAI client: the bearer key is swapped.
func serveOpenAIProxy(b *testing.B, fakeURL string, transport http.RoundTripper) string {
	return serveProxyWith(b, fakeURL, transport, "Authorization", "Bearer "+upstreamKey)
}

// streamChat sends one streaming chat completion and returns when it was sent and when every
// LF-framed event (the data: [DONE] included) arrived.
func (tg *target) streamChat(b *testing.B, arrivals []time.Time) (time.Time, []time.Time) {
	req, err := http.NewRequest("POST", tg.url, strings.NewReader(streamChatBody))
	require.NoError(b, err)
	req.Header.Set("Authorization", "Bearer "+tg.key)
	return tg.timeFrames(b, req, []byte("\n"), arrivals)
}

// BenchmarkOpenAITTFB is BenchmarkTTFB for the OpenAI route: time to the first frame of a
// streamed chat completion (the fake's three chunks and [DONE]) directly, through the reverse
// proxy, the hop and the gateway, interleaved in one run.
func BenchmarkOpenAITTFB(b *testing.B) {
	targets, _ := openAITargets(b, nil)
	benchTTFB(b, targets, (*target).streamChat)
}

// BenchmarkOpenAIInterChunkGap is BenchmarkInterChunkGap for the OpenAI route: 20 chunks paced
// 1 ms apart, then [DONE], each flush timestamped by the fake; it reports the delivery latency
// and the added gap of every frame after the first, per target.
func BenchmarkOpenAIInterChunkGap(b *testing.B) {
	flushes := &flushLog{}
	script := upstreamtest.OpenAIStream(false, upstreamtest.Texts(20, 64)...).Paced(time.Millisecond)
	targets, fake := openAITargets(b, flushes.wrap)
	benchChunkGap(b, targets, flushes, (*target).streamChat, func() { fake.Enqueue(script) })
}

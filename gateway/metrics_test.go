package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/telemetry"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

var _ gateway.Metrics = (*telemetry.Metrics)(nil)

// After a scripted mix of traffic the gateway's metrics hold exactly what it implies: a completed
// Gemini-route generation, a 400, a 401, a 404 of no route, and a push stream whose only
// subscriber stops reading and is dropped as slow.
func TestMetricsAfterTraffic(t *testing.T) {
	metrics, err := telemetry.NewMetrics(telemetry.MetricsConfig{})
	require.NoError(t, err)
	e := newEnv(t, options{
		manager: func(c *manager.Config) { c.HistorySize = 16 },
		gateway: func(c *gateway.Config) {
			c.ClientQueueSize = 16
			c.Metrics = metrics
		},
	})

	resp := e.request("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, geminiFrames(upstreamtest.Chunks(defaultTexts...)...), string(readAll(t, resp)))
	status, body := e.do("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=proto", aliceKey, generateBody)
	requireError(t, 400, "INVALID_ARGUMENT", status, body)
	status, body = e.do("GET", "/v1/streams", "", nil)
	requireError(t, 401, "UNAUTHENTICATED", status, body)
	status, body = e.do("GET", "/v2/nowhere", aliceKey, nil)
	requireError(t, 404, "NOT_FOUND", status, body)

	id := e.createStream(aliceKey, map[string]any{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "GET /v1/streams/%s/events HTTP/1.1\r\nHost: gw\r\nx-goog-api-key: %s\r\n\r\n", id, aliceKey)
	require.NoError(t, err)
	e.waitClients(id, 1)
	big := strings.Repeat("x", 256<<10)
	pushed, pushedBytes := 0, 0
	for pushed < 400 {
		pushed++
		data := big + strconv.Itoa(pushed)
		e.push(aliceKey, id, data, "")
		pushedBytes += len(strconv.Quote(data))
		if n, err := e.m.ClientCount(context.Background(), id); err == nil && n == 0 {
			break
		}
	}
	require.Less(t, pushed, 400, "the slow subscriber was never dropped")
	// Reading lets the dropped subscriber's last write finish; its response then ends.
	slow, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, slow.Body)
	require.NoError(t, err)
	slow.Body.Close()

	want := fmt.Sprintf(`
# HELP streamgate_chunk_bytes_total Bytes of chunk data pushed into streams.
# TYPE streamgate_chunk_bytes_total counter
streamgate_chunk_bytes_total %d
# HELP streamgate_chunks_total Chunks pushed into streams.
# TYPE streamgate_chunks_total counter
streamgate_chunks_total{source="api"} %d
# HELP streamgate_http_requests_total HTTP requests answered, by route template and status.
# TYPE streamgate_http_requests_total counter
streamgate_http_requests_total{code="200",route="/v1/streams/:id/events"} 1
streamgate_http_requests_total{code="200",route="/v1beta/models/:modelAction"} 1
streamgate_http_requests_total{code="201",route="/v1/streams"} 1
streamgate_http_requests_total{code="202",route="/v1/streams/:id/chunks"} %d
streamgate_http_requests_total{code="400",route="/v1beta/models/:modelAction"} 1
streamgate_http_requests_total{code="401",route="/v1/streams"} 1
streamgate_http_requests_total{code="404",route="unmatched"} 1
# HELP streamgate_slow_clients_total Subscribers dropped because their queue overflowed.
# TYPE streamgate_slow_clients_total counter
streamgate_slow_clients_total 1
# HELP streamgate_subscribers Subscribers attached now, by the route they came through.
# TYPE streamgate_subscribers gauge
streamgate_subscribers{route="events"} 0
streamgate_subscribers{route="gemini"} 0
`, pushedBytes, pushed, pushed)
	assert.NoError(t, testutil.GatherAndCompare(metrics.Registry(), strings.NewReader(want),
		"streamgate_chunk_bytes_total", "streamgate_chunks_total", "streamgate_http_requests_total",
		"streamgate_slow_clients_total", "streamgate_subscribers"))

	families, err := metrics.Registry().Gather()
	require.NoError(t, err)
	observed := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != "streamgate_http_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			require.Len(t, m.GetLabel(), 1)
			observed[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
		}
	}
	assert.Equal(t, map[string]uint64{
		"/v1beta/models/:modelAction": 2,
		"/v1/streams":                 2,
		"unmatched":                   1,
		"/v1/streams/:id/chunks":      uint64(pushed),
		"/v1/streams/:id/events":      1,
	}, observed, "one duration per request, by route")
}

// The subscribers gauge counts a subscriber while it is attached.
func TestSubscribersGauge(t *testing.T) {
	metrics, err := telemetry.NewMetrics(telemetry.MetricsConfig{})
	require.NoError(t, err)
	e := newEnv(t, options{gateway: func(c *gateway.Config) { c.Metrics = metrics }})
	id := e.createStream(aliceKey, map[string]any{})
	gauge := func() string {
		families, err := metrics.Registry().Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() == "streamgate_subscribers" {
				for _, m := range f.GetMetric() {
					return m.GetLabel()[0].GetValue() + "=" + strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64)
				}
			}
		}
		return ""
	}
	first := e.subscribe(aliceKey, id, "")
	second := e.subscribe(aliceKey, id, "")
	e.waitClients(id, 2)
	assert.Equal(t, "events=2", gauge())
	first.close()
	e.waitClients(id, 1)
	require.Eventually(t, func() bool { return gauge() == "events=1" }, 5*time.Second, time.Millisecond, gauge())
	status, body := e.do("DELETE", "/v1/streams/"+id, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	second.rest()
	second.close()
	assert.Equal(t, "events=0", gauge())
}

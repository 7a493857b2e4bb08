package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
)

// A streamed answer's frames bypass gin's writer, which counts a response's bytes: the access
// line still holds every byte of the body on each route that streams, as for an answer refused
// before any stream.
func TestAccessLogCountsStreamedBytes(t *testing.T) {
	e := newEnv(t, options{json: true})
	for _, tc := range []struct {
		name, path, body string
		header           []string
		status           int
	}{
		{"Gemini SSE", streamPath, generateBody, []string{"x-goog-api-key", aliceKey}, http.StatusOK},
		{"Gemini JSON array", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", generateBody, []string{"x-goog-api-key", aliceKey}, http.StatusOK},
		{"OpenAI stream", "/v1/chat/completions", streamChatBody, bearer(aliceKey), http.StatusOK},
		{"refused before the stream", streamPath, `[]`, []string{"x-goog-api-key", aliceKey}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rid := "bytes-" + strings.ReplaceAll(tc.name, " ", "-")
			resp, _ := e.requestFrom("POST", tc.path, "", tc.body, append(tc.header, gateway.HeaderRequestID, rid)...)
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode, string(got))
			require.NotEmpty(t, got)
			line := e.accessLine(rid)
			assert.Equal(t, float64(len(got)), line["bytes"])
			assert.Equal(t, float64(tc.status), line["status"])
		})
	}
}

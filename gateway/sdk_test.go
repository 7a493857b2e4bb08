package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// newSDKClient returns the official Go SDK pointed at the gateway, with a gateway key as its key.
func newSDKClient(t *testing.T, e *env, key string) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:     key,
		Backend:    genai.BackendGeminiAPI,
		HTTPClient: e.client,
		HTTPOptions: genai.HTTPOptions{
			BaseURL:    e.url,
			APIVersion: "v1beta",
		},
	})
	require.NoError(t, err)
	return c
}

func TestSDKStreamsThroughGateway(t *testing.T) {
	e := newEnv(t, options{})
	client := newSDKClient(t, e, aliceKey)
	var texts []string
	var last *genai.GenerateContentResponse
	for resp, err := range client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash",
		genai.Text("Say hello"), nil) {
		require.NoError(t, err)
		texts = append(texts, resp.Text())
		last = resp
	}
	assert.Equal(t, defaultTexts, texts)
	require.NotNil(t, last)
	require.Len(t, last.Candidates, 1)
	assert.Equal(t, genai.FinishReasonStop, last.Candidates[0].FinishReason)
	require.NotNil(t, last.UsageMetadata)

	reqs := e.fake.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, upstreamKey, reqs[0].Header.Get("x-goog-api-key"), "the fake got the gateway's key")
	assert.NotEqual(t, aliceKey, reqs[0].Header.Get("x-goog-api-key"))
	assert.Equal(t, "streamGenerateContent", reqs[0].Call)
	assert.Contains(t, string(reqs[0].Body), "Say hello")
}

func TestSDKGenerateContentPassthrough(t *testing.T) {
	e := newEnv(t, options{})
	client := newSDKClient(t, e, bobKey)
	resp, err := client.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("Say hello"), nil)
	require.NoError(t, err)
	assert.Equal(t, strings.Join(defaultTexts, ""), resp.Text())
	reqs := e.fake.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "generateContent", reqs[0].Call)
	assert.Equal(t, upstreamKey, reqs[0].Header.Get("x-goog-api-key"))
}

func TestSDKSeesUpstreamErrors(t *testing.T) {
	e := newEnv(t, options{})
	client := newSDKClient(t, e, aliceKey)

	t.Run("before the first byte", func(t *testing.T) {
		e.fake.Enqueue(upstreamtest.Error(http.StatusBadRequest, "Invalid value at 'contents'"))
		var apiErr genai.APIError
		for _, err := range client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("x"), nil) {
			require.Error(t, err)
			require.True(t, errors.As(err, &apiErr), "%T %v", err, err)
			break
		}
		assert.Equal(t, http.StatusBadRequest, apiErr.Code)
		assert.Equal(t, "INVALID_ARGUMENT", apiErr.Status)
		assert.Equal(t, "Invalid value at 'contents'", apiErr.Message)
	})
	t.Run("mid-stream", func(t *testing.T) {
		chunks := upstreamtest.Chunks("one", "two", "three")
		e.fake.Enqueue(upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]),
			upstreamtest.ErrorTail(http.StatusServiceUnavailable, "The model is overloaded.")}})
		var texts []string
		var streamErr error
		for resp, err := range client.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("x"), nil) {
			if err != nil {
				streamErr = err
				break
			}
			texts = append(texts, resp.Text())
		}
		assert.Equal(t, []string{"one"}, texts)
		require.Error(t, streamErr, "a failed stream must never end cleanly")
		assert.Contains(t, streamErr.Error(), "The model is overloaded.")
	})
	t.Run("wrong gateway key", func(t *testing.T) {
		bad := newSDKClient(t, e, "not-a-key")
		_, err := bad.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("x"), nil)
		var apiErr genai.APIError
		require.True(t, errors.As(err, &apiErr), "%v", err)
		assert.Equal(t, http.StatusUnauthorized, apiErr.Code)
		assert.Equal(t, "UNAUTHENTICATED", apiErr.Status)
	})
}

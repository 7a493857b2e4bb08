package gateway

import (
	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/upstream"
)

// streamChat serves a streaming chat completion as the Gemini route serves
// :streamGenerateContent: it creates a stream (source openai, so that it orphans when its last
// subscriber leaves), makes the caller its first subscriber, starts the upstream runner with the
// body as it came, and writes the chunks as OpenAI streams them (openAISink), with X-Stream-Id
// so that others can watch or resume it on /v1/streams/{id}/events. model only labels the
// stream.
func (s *Server) streamChat(c *gin.Context, model string, body []byte) error {
	ctx := c.Request.Context()
	streamID, err := s.newStream(ctx, "", streamLabels(identity(c), model, KindGenerate, SourceOpenAI))
	if err != nil {
		return err
	}
	sink := &openAISink{sseWriter: s.sseWriterFor(c, streamID)}
	sub, err := s.register(ctx, streamID, SourceOpenAI, sink, 0)
	if err != nil {
		s.closeStream(ctx, streamID, "could not register the caller")
		return err
	}
	defer sub.leave(ctx)
	s.startGeneration(ctx, streamID, upstream.Request{Model: model, Body: body, OpenAI: true})
	sub.run(ctx)
	return nil
}

package gateway

import "github.com/streamgate/streamgate/manager"

// Values of manager.LabelKind.
const (
	// KindGenerate streams are fed by an upstream generation.
	KindGenerate = "generate"
	// KindPush streams are fed through POST /v1/streams/{id}/chunks.
	KindPush = "push"
)

// Values of manager.LabelSource.
const (
	// SourceGemini streams were started by a Gemini route caller; they orphan when their last
	// subscriber leaves.
	SourceGemini = "gemini"
	// SourceOpenAI streams were started by an OpenAI-route caller ("stream": true); they orphan
	// as Gemini-route streams do.
	SourceOpenAI = "openai"
	// SourceAPI streams were made by POST /v1/streams; they run to the end whoever listens.
	SourceAPI = "api"
)

// Close reasons the gateway uses.
const (
	// ReasonClientDisconnected closes a Gemini- or OpenAI-route stream whose last subscriber left.
	ReasonClientDisconnected = "client disconnected"
	// ReasonDeleted closes a stream stopped with DELETE /v1/streams/{id}.
	ReasonDeleted = "deleted by client"
)

// visibleTo reports whether a tenant may see the stream.
func visibleTo(info manager.StreamInfo, tenant string) bool {
	return info.Labels[manager.LabelTenant] == tenant
}

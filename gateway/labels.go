package gateway

import "github.com/streamgate/streamgate/manager"

// Stream labels the gateway sets on every stream it creates (manager.StreamInfo.Labels).
const (
	// LabelTenant is the tenant of the key that created the stream ("" in open mode). A tenant sees
	// only its own streams.
	LabelTenant = "tenant"
	// LabelKeyID is the ID of the key that created the stream ("" in open mode).
	LabelKeyID = "key_id"
	// LabelModel is the model of a generation stream ("" for a push stream).
	LabelModel = "model"
	// LabelKind is KindGenerate or KindPush.
	LabelKind = "kind"
	// LabelSource is SourceGemini or SourceAPI: the route that created the stream.
	LabelSource = "source"
)

// Values of LabelKind.
const (
	// KindGenerate streams are fed by an upstream generation.
	KindGenerate = "generate"
	// KindPush streams are fed through POST /v1/streams/{id}/chunks.
	KindPush = "push"
)

// Values of LabelSource.
const (
	// SourceGemini streams were started by a Gemini route caller; they orphan when their last
	// subscriber leaves.
	SourceGemini = "gemini"
	// SourceAPI streams were made by POST /v1/streams; they run to the end whoever listens.
	SourceAPI = "api"
)

// Close reasons the gateway uses.
const (
	// ReasonClientDisconnected closes a Gemini-route stream whose last subscriber left.
	ReasonClientDisconnected = "client disconnected"
	// ReasonDeleted closes a stream stopped with DELETE /v1/streams/{id}.
	ReasonDeleted = "deleted by client"
)

// visibleTo reports whether a tenant may see the stream.
func visibleTo(info manager.StreamInfo, tenant string) bool {
	return info.Labels[LabelTenant] == tenant
}

package manager

// Label keys of StreamInfo.Labels. The manager reads only LabelTenant, to hold the stream to its
// tenant's Quota; the keys live here so that the packages that set them (the gateway) and the ones
// that match on them (the plugin host's attach rules) name them once.
const (
	// LabelTenant is the tenant of the key that created the stream ("" in open mode), whose Quota
	// the stream counts against.
	LabelTenant = "tenant"
	// LabelKeyID is the ID of the key that created the stream ("" in open mode).
	LabelKeyID = "key_id"
	// LabelModel is the model of a generation stream ("" for a push stream).
	LabelModel = "model"
	// LabelKind says what feeds the stream: an upstream generation or pushed chunks.
	LabelKind = "kind"
	// LabelSource is the route that created the stream.
	LabelSource = "source"
)

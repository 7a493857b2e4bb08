package sdk

// The handshake the host and its plugins agree on. A binary started without this cookie in its
// environment is not being run by streamgate and refuses to serve.
const (
	MagicCookieKey   = "STREAMGATE_PLUGIN_MAGIC_COOKIE"
	MagicCookieValue = "19f2a843-b655-4c8b-95bd-bc98057ba4f4"
	// ProtocolVersion is the plugin protocol this SDK speaks.
	ProtocolVersion = 1
	// PluginName is the go-plugin name every streamgate plugin is dispensed under.
	PluginName = "streamgate"
	// MaxMessageBytes bounds one gRPC message (a batch of chunks) in either direction.
	MaxMessageBytes = 64 << 20
)

package plugins

// Metrics is what the host records about its plugins; *telemetry.Metrics implements it. The
// methods must be safe for concurrent use.
type Metrics interface {
	// PluginUp records whether the named plugin's process is serving: after its launch and
	// each restart, and when it stops (it died, failed a health check, or the host closes).
	PluginUp(name string, up bool)
	// PluginRestart counts one restart of the named plugin's process that came up.
	PluginRestart(name string)
	// SubscriberJoined counts a transport session open on a stream, with route "plugin", until
	// leave is called (once).
	SubscriberJoined(route string) (leave func())
	// SlowClient counts a subscription whose queue overflowed; it catches up from its last chunk.
	SlowClient()
}

// SubscriberRoute is the route label of the transport sessions' subscribers.
const SubscriberRoute = "plugin"

// nopMetrics is the Metrics of a Config without any.
type nopMetrics struct{}

func (nopMetrics) PluginUp(string, bool)                  {}
func (nopMetrics) PluginRestart(string)                   {}
func (nopMetrics) SubscriberJoined(string) (leave func()) { return func() {} }
func (nopMetrics) SlowClient()                            {}

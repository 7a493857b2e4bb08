// Package sdk is what a streamgate plugin imports.
//
// A plugin is a separate executable that the streamgate gateway launches and talks to over gRPC
// (hashicorp/go-plugin). It plays one or both of two roles:
//
//   - a transport receives the chunks of the streams it is attached to and delivers them anywhere
//     (a file, a webhook, a queue): implement [Transport] and [Session];
//   - an error handler decides what an upstream or delivery error means: implement [ErrorHandler].
//
// The main function hands the implementations to [Serve]:
//
//	func main() {
//		sdk.Serve(sdk.Info{Name: "stdout", Version: "1.0.0"}, sdk.WithTransport(stdoutTransport{}))
//	}
//
// The SDK speaks the wire protocol: it acknowledges a batch of chunks once Session.Deliver returns
// nil and reports the error to the host when it does not, drops chunks it has already
// acknowledged, and makes the plugin process exit when its host dies. Log with [Logger]: its
// records reach the gateway's log tagged with the plugin's name.
//
// Package sdk exposes plain Go types only. It imports the generated protocol code and go-plugin,
// and must never import gateway, manager, upstream or plugins.
package sdk

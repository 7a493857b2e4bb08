// Package pluginpb is the Go code generated from plugins/proto/streamgate/plugin/v1 by `make proto`.
//
// It is the wire format between the streamgate host and its plugins and never part of a public
// API: plugins/sdk and plugins convert it to plain Go types. Do not edit the *.pb.go files.
package pluginpb

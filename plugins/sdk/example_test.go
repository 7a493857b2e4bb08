package sdk_test

import (
	"context"

	"github.com/streamgate/streamgate/plugins/sdk"
)

// logTransport logs every chunk of every stream it is attached to.
type logTransport struct{}

func (logTransport) Open(_ context.Context, req sdk.OpenRequest) (sdk.Session, error) {
	return logSession{stream: req.StreamID}, nil
}

type logSession struct{ stream string }

func (s logSession) Deliver(_ context.Context, chunks []sdk.Chunk) error {
	for _, c := range chunks {
		sdk.Logger().Info("chunk", "stream_id", s.stream, "id", c.ID, "data", string(c.Data))
	}
	return nil // the SDK acknowledges the batch
}

func (s logSession) Close(_ context.Context, info sdk.CloseInfo) error {
	sdk.Logger().Info("stream closed", "stream_id", s.stream, "reason", info.Reason)
	return nil
}

// A complete transport plugin: build it with `go build` and list the binary in the gateway's
// `plugins` configuration.
func Example() {
	sdk.Serve(sdk.Info{Name: "log", Version: "1.0.0"}, sdk.WithTransport(logTransport{}))
}

// Command streamgate-plugin-jsonl is a streamgate transport plugin that appends every chunk of each
// stream it is attached to as one JSON line to <dir>/<tenant>/<stream id>.<instance>.jsonl, then a
// final line saying why the stream ended.
//
// Configuration (the `config` block of its entry in the gateway's `plugins` list):
//
//	dir:   directory for the files (required; created when missing)
//	fsync: "batch" (default): every batch is flushed to disk before it is acknowledged, so an
//	       acknowledged chunk survives a crash of the machine; "close": only the final line is
//	       flushed; "never": the operating system decides.
//
// Lines look like
//
//	{"stream_id":"s1","id":1,"event":"","data":{"candidates":[...]}}
//	{"stream_id":"s1","closed":true,"reason":"completed"}
//
// where data is the chunk's JSON value (compacted) or, when the chunk is not JSON, a JSON string,
// and the closing line carries "error":{"code","status","message"} when the stream failed.
//
// A stream ID can be used again once its stream was forgotten, by another tenant too, so each file
// is named by the stream's tenant (a directory; none in open mode), its ID and its instance, which
// is unique per creation: every stream has a file of its own, and a session opened again after a
// restart finds its file. Each part is escaped: ASCII letters, digits, '-' and '_' stay, any other
// byte becomes %XX, and a part longer than 120 bytes escaped becomes '~' and its hex SHA-256.
//
// Each chunk is written exactly once, even across crashes: on Open the plugin reads the file, drops
// a torn last line, and skips every chunk whose ID is not above the last one written, because after
// a restart the gateway replays from the last acknowledged chunk, which may be older.
// Subscriptions accept no configuration of their own.
package main

import "github.com/streamgate/streamgate/plugins/sdk"

func main() {
	sdk.Serve(sdk.Info{
		Name:        "jsonl",
		Version:     "1.0.0",
		Description: `Appends each chunk as a JSON line to <dir>/<tenant>/<stream id>.<instance>.jsonl. Config: {"dir": "...", "fsync": "batch"|"close"|"never"}.`,
	}, sdk.WithTransport(newTransport()))
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/plugins/sdk"
)

func configured(t *testing.T, extra string) (*transport, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	tr := newTransport()
	require.NoError(t, tr.Configure(context.Background(), json.RawMessage(`{"dir":"`+dir+`"`+extra+`}`)))
	return tr, dir
}

func open(t *testing.T, tr *transport, stream string) sdk.Session {
	t.Helper()
	s, err := tr.Open(context.Background(), sdk.OpenRequest{StreamID: stream, Instance: "i1", SubscriptionID: "sub"})
	require.NoError(t, err)
	return s
}

func chunk(id uint64, data string) sdk.Chunk {
	return sdk.Chunk{ID: id, Data: []byte(data), Time: time.Unix(1, 0)}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestWritesEachChunkAsALine(t *testing.T) {
	tr, dir := configured(t, "")
	s := open(t, tr, "s1")
	ctx := context.Background()
	require.NoError(t, s.Deliver(ctx, []sdk.Chunk{
		chunk(1, `{"text": "a<b>",
  "n": 1}`),
		chunk(2, "not json"),
		{ID: 3, Event: "error", Data: []byte(`{"error":{"code":503,"message":"down","status":"UNAVAILABLE"}}`),
			Err: &sdk.Error{Code: 503, Status: "UNAVAILABLE", Message: "down"}},
	}))
	require.NoError(t, s.Close(ctx, sdk.CloseInfo{Reason: "Stream terminated due to error: down", Err: &sdk.Error{Code: 503, Status: "UNAVAILABLE", Message: "down"}}))
	assert.Equal(t, `{"stream_id":"s1","id":1,"event":"","data":{"text":"a<b>","n":1}}
{"stream_id":"s1","id":2,"event":"","data":"not json"}
{"stream_id":"s1","id":3,"event":"error","data":{"error":{"code":503,"message":"down","status":"UNAVAILABLE"}}}
{"stream_id":"s1","closed":true,"reason":"Stream terminated due to error: down","error":{"code":503,"status":"UNAVAILABLE","message":"down"}}
`, read(t, filepath.Join(dir, "s1.i1.jsonl")))
}

func TestReopenSkipsWrittenChunks(t *testing.T) {
	tr, dir := configured(t, `,"fsync":"never"`)
	ctx := context.Background()
	s := open(t, tr, "s1")
	require.NoError(t, s.Deliver(ctx, []sdk.Chunk{chunk(1, "1"), chunk(2, "2"), chunk(3, "3")}))
	s.(sdk.Aborter).Abort() // the host went away after acknowledging only chunk 1

	s = open(t, tr, "s1")
	require.NoError(t, s.Deliver(ctx, []sdk.Chunk{chunk(2, "2"), chunk(3, "3"), chunk(4, "4")}))
	require.NoError(t, s.Close(ctx, sdk.CloseInfo{Reason: "completed"}))
	// A Close repeated after a restart adds nothing.
	s = open(t, tr, "s1")
	require.NoError(t, s.Deliver(ctx, []sdk.Chunk{chunk(4, "4")}))
	require.NoError(t, s.Close(ctx, sdk.CloseInfo{Reason: "completed"}))

	assert.Equal(t, `{"stream_id":"s1","id":1,"event":"","data":1}
{"stream_id":"s1","id":2,"event":"","data":2}
{"stream_id":"s1","id":3,"event":"","data":3}
{"stream_id":"s1","id":4,"event":"","data":4}
{"stream_id":"s1","closed":true,"reason":"completed"}
`, read(t, filepath.Join(dir, "s1.i1.jsonl")))
}

func TestTornLastLineIsCut(t *testing.T) {
	tr, dir := configured(t, "")
	path := filepath.Join(dir, "s1.i1.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(`{"stream_id":"s1","id":1,"event":"","data":1}
{"stream_id":"s1","id":2,"ev`), 0o640))
	s := open(t, tr, "s1")
	require.NoError(t, s.Deliver(context.Background(), []sdk.Chunk{chunk(1, "1"), chunk(2, "2")}))
	s.(sdk.Aborter).Abort()
	assert.Equal(t, `{"stream_id":"s1","id":1,"event":"","data":1}
{"stream_id":"s1","id":2,"event":"","data":2}
`, read(t, path))
}

func TestCorruptFileIsRefused(t *testing.T) {
	tr, dir := configured(t, "")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s1.i1.jsonl"), []byte("garbage\n"), 0o640))
	_, err := tr.Open(context.Background(), sdk.OpenRequest{StreamID: "s1", Instance: "i1"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line at byte 0 is not JSON")
}

func TestOneSessionPerStream(t *testing.T) {
	tr, _ := configured(t, "")
	s := open(t, tr, "s1")
	_, err := tr.Open(context.Background(), sdk.OpenRequest{StreamID: "s1", Instance: "i1"})
	assert.EqualError(t, err, `stream "s1" already has an open jsonl session`)
	require.NoError(t, s.Close(context.Background(), sdk.CloseInfo{Reason: "completed"}))
	open(t, tr, "s1").(sdk.Aborter).Abort()
}

func TestEachStreamInstanceHasItsOwnFile(t *testing.T) {
	long := strings.Repeat("%", 41) // 123 bytes escaped
	sum := sha256.Sum256([]byte(long))
	for _, tc := range []struct {
		name, tenant, stream, instance string
		want                           string // under dir
	}{
		{"open mode", "", "s1", "i1", "s1.i1.jsonl"},
		{"tenant", "acme", "s1", "i1", "acme/s1.i1.jsonl"},
		{"same ID, another instance", "acme", "s1", "i2", "acme/s1.i2.jsonl"},
		{"same ID, another tenant", "globex", "s1", "i1", "globex/s1.i1.jsonl"},
		{"no instance", "acme", "s1", "", "acme/s1..jsonl"},
		{"dots and slashes", "../..", "../a/b", "i.1", "%2E%2E%2F%2E%2E/%2E%2E%2Fa%2Fb.i%2E1.jsonl"},
		{"a tenant named like a file", "s1.i1.jsonl", "s1", "i1", "s1%2Ei1%2Ejsonl/s1.i1.jsonl"},
		{"other bytes", "a b%", "x~y\\z", "i1", "a%20b%25/x%7Ey%5Cz.i1.jsonl"},
		{"too long", long, long, "i1", "~" + hex.EncodeToString(sum[:]) + "/~" + hex.EncodeToString(sum[:]) + ".i1.jsonl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, dir := configured(t, "")
			s, err := tr.Open(context.Background(), sdk.OpenRequest{StreamID: tc.stream, Instance: tc.instance, Tenant: tc.tenant})
			require.NoError(t, err)
			require.NoError(t, s.Close(context.Background(), sdk.CloseInfo{Reason: "completed"}))
			line, err := json.Marshal(closeLine{StreamID: tc.stream, Closed: true, Reason: "completed"})
			require.NoError(t, err)
			assert.Equal(t, string(line)+"\n", read(t, filepath.Join(dir, filepath.FromSlash(tc.want))))
			var files []string
			require.NoError(t, filepath.WalkDir(filepath.Dir(dir), func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					files = append(files, path)
				}
				return err
			}))
			assert.Equal(t, []string{filepath.Join(dir, filepath.FromSlash(tc.want))}, files, "nothing is written elsewhere")
		})
	}
}

func TestConfigDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		want         sdk.Diagnostics
	}{
		{"dir missing", `{}`, sdk.Invalid("/dir", "dir is required")},
		{"bad fsync", `{"dir":"/tmp","fsync":"always"}`, sdk.Invalid("/fsync", `fsync must be "batch", "close" or "never", not "always"`)},
		{"unknown key", `{"dir":"/tmp","dri":1}`, sdk.Invalid("/dri", `unknown field "dri"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, newTransport().Configure(context.Background(), json.RawMessage(tc.config)))
		})
	}
	tr, _ := configured(t, "")
	_, err := tr.Open(context.Background(), sdk.OpenRequest{StreamID: "s", Config: json.RawMessage(`{"dir":"/etc"}`)})
	assert.Equal(t, sdk.Invalid("/dir", `unknown field "dir"`), err, "a subscription cannot choose the directory")
	_, err = newTransport().Open(context.Background(), sdk.OpenRequest{StreamID: "s"})
	assert.EqualError(t, err, "jsonl transport is not configured")
}

func FuzzScanLog(f *testing.F) {
	f.Add([]byte(`{"stream_id":"s","id":1,"event":"","data":1}` + "\n" + `{"id":2`))
	f.Add([]byte(`{"stream_id":"s","closed":true,"reason":"completed"}` + "\n"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "f.jsonl")
		require.NoError(t, os.WriteFile(path, data, 0o640))
		f, st, err := openLog(path)
		if err != nil {
			return
		}
		require.NoError(t, f.Close())
		got := read(t, path)
		require.Equal(t, int64(len(got)), st.size)
		require.Equal(t, string(data[:st.size]), got, "only a torn tail may be cut")
		if st.size > 0 {
			require.Equal(t, byte('\n'), got[len(got)-1])
		}
	})
}

package sse_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/sse"
)

var update = flag.Bool("update", false, "rewrite the want section of the golden files in testdata/golden")

// goldenCase is one file in testdata/golden: an input stream, the rule it exercises and what a
// Reader must return for it.
type goldenCase struct {
	Rule         string  `json:"rule"`
	Input        text    `json:"input"`
	MaxEventSize int     `json:"max_event_size,omitempty"`
	SeedID       string  `json:"seed_last_event_id,omitempty"`
	Want         readLog `json:"want"`
}

// readLog records everything a Reader reported while reading a whole stream.
type readLog struct {
	Results     []result `json:"results"`
	End         string   `json:"end"`
	LastEventID string   `json:"last_event_id"`
	RetryMillis int64    `json:"retry_ms"`
}

// result is one return of Next (an event or an error other than the end) with the lines ignored
// during that call and the reader's Retry after it.
type result struct {
	Type        string `json:"type,omitempty"`
	Data        *text  `json:"data,omitempty"`
	LastEventID string `json:"last_event_id,omitempty"`
	Err         string `json:"error,omitempty"`
	RetryMillis int64  `json:"retry_ms,omitempty"`
	Ignored     []text `json:"ignored,omitempty"`
}

// text holds bytes that are written to JSON as a string when they are valid UTF-8 and as
// {"base64": "..."} otherwise, so that golden files stay readable and exact.
type text []byte

func (t text) MarshalJSON() ([]byte, error) {
	var v any = string(t)
	if !utf8.Valid(t) {
		v = map[string]string{"base64": base64.StdEncoding.EncodeToString(t)}
	}
	return marshal(v)
}

func (t *text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = append(text{}, s...)
		return nil
	}
	var v struct {
		Base64 string `json:"base64"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(v.Base64)
	*t = append(text{}, raw...)
	return err
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(v)
	return buf.Bytes(), err
}

// feeds are the ways every golden input is fed to a Reader.
var feeds = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one-byte", iotest.OneByteReader},
	{"two-byte", func(r io.Reader) io.Reader { return &chunkReader{r: r, sizes: []int{2}} }},
	{"data-with-eof", iotest.DataErrReader},
}

// chunkReader returns at most sizes[i] bytes on its i-th read, cycling through sizes.
type chunkReader struct {
	r     io.Reader
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	n := c.sizes[c.i%len(c.sizes)]
	c.i++
	if len(p) > n {
		p = p[:n]
	}
	return c.r.Read(p)
}

// readAll reads r to its end and logs what the Reader reported.
func readAll(t testing.TB, r *sse.Reader) readLog {
	var log readLog
	var ignored []text
	r.SetIgnoredLineFunc(func(line []byte) { ignored = append(ignored, append(text{}, line...)) })
	for range 1 << 20 {
		ev, err := r.Next()
		res := result{RetryMillis: r.Retry().Milliseconds(), Ignored: ignored}
		ignored = nil
		switch {
		case errors.Is(err, sse.ErrEventTooLarge):
			res.Err = "ErrEventTooLarge"
		case err != nil:
			log.End = err.Error()
			log.LastEventID = r.LastEventID()
			log.RetryMillis = r.Retry().Milliseconds()
			if len(res.Ignored) > 0 {
				log.Results = append(log.Results, res)
			}
			_, again := r.Next()
			require.Equal(t, err, again, "the end must be sticky")
			return log
		default:
			data := append(text{}, ev.Data...)
			res.Type, res.Data, res.LastEventID = ev.Type, &data, ev.LastEventID
		}
		log.Results = append(log.Results, res)
	}
	t.Fatal("reader did not end")
	return log
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var tc goldenCase
			require.NoError(t, json.Unmarshal(raw, &tc))
			require.NotEmpty(t, tc.Rule, "every case names the rule it covers")
			if !*update {
				require.Equal(t, tc.Want, referenceParse(tc.Input, tc.MaxEventSize, tc.SeedID), "reference parser")
			}
			for _, feed := range feeds {
				r := sse.NewReader(feed.wrap(bytes.NewReader(tc.Input)))
				r.SetMaxEventSize(tc.MaxEventSize)
				if tc.SeedID != "" {
					r.SetLastEventID(tc.SeedID)
				}
				got := readAll(t, r)
				if *update && feed.name == "whole" {
					tc.Want = got
					out, err := marshal(tc)
					require.NoError(t, err)
					require.NoError(t, os.WriteFile(file, out, 0o644))
				}
				require.Equal(t, tc.Want, got, "fed %s", feed.name)
			}
		})
	}
}

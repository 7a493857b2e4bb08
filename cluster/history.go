package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/streamgate/streamgate/manager"
)

// Page is what ReadRange read: chunks and the state of the stream they were read with, in one
// atomic step, so a reader that sees Closed knows no chunk follows the last one.
type Page struct {
	Chunks []manager.Chunk
	// LastChunkID is the stream's last chunk when the page was read; more chunks follow the page
	// when it is above the last chunk of Chunks (a page bounded by its limit).
	LastChunkID uint64
	// Closed is set when the stream was closed when the page was read.
	Closed *Closed
}

// Closed describes how a stream ended.
type Closed struct {
	Status      manager.Status
	Reason      string
	Err         *manager.StreamError // set when Status is manager.StatusError
	LastChunkID uint64
}

// ReadRange returns the chunks after afterID, at most limit of them (zero for all), from the
// stream's history in Redis. manager.ErrHistoryTrimmed means chunk afterID+1 is no longer kept
// (400 FAILED_PRECONDITION), manager.ErrInvalidAfterID that afterID is beyond the last chunk (400),
// manager.ErrNotFound that no such stream is kept.
func (s *Store) ReadRange(ctx context.Context, id string, afterID uint64, limit int) (Page, error) {
	if limit < 0 {
		return Page{}, fmt.Errorf("read stream %s: limit must not be negative (got %d)", id, limit)
	}
	r, err := readScript.Exec(ctx, s.client, []string{metaKey(id), histKey(id)},
		[]string{strconv.FormatUint(afterID, 10), strconv.Itoa(limit)}).ToArray()
	if err != nil {
		return Page{}, wrap("read stream "+id, err)
	}
	code, err := r[0].AsInt64()
	if err != nil {
		return Page{}, wrap("read stream "+id, err)
	}
	switch code {
	case resNotFound:
		return Page{}, fmt.Errorf("read stream %s: %w", id, manager.ErrNotFound)
	case resBeyondEnd:
		last, _ := r[1].ToString()
		return Page{}, fmt.Errorf("read stream %s after chunk %d: %w (last chunk %s)", id, afterID, manager.ErrInvalidAfterID, last)
	case resTrimmed:
		first, _ := r[1].ToString()
		return Page{}, fmt.Errorf("read stream %s after chunk %d: %w (oldest kept %s)", id, afterID, manager.ErrHistoryTrimmed, first)
	}
	return decodePage(id, r)
}

// decodePage reads readScript's {0, status, last, reason, error JSON, entries}.
func decodePage(id string, r []rueidis.RedisMessage) (Page, error) {
	if len(r) != 6 {
		return Page{}, fmt.Errorf("cluster: read stream %s: reply has %d elements, want 6", id, len(r))
	}
	status, _ := r[1].ToString()
	lastS, _ := r[2].ToString()
	last, err := strconv.ParseUint(lastS, 10, 64)
	if err != nil {
		return Page{}, fmt.Errorf("cluster: read stream %s: last chunk %q: %w", id, lastS, err)
	}
	p := Page{LastChunkID: last}
	entries, err := r[5].ToArray()
	if err != nil {
		return Page{}, fmt.Errorf("cluster: read stream %s: entries: %w", id, err)
	}
	p.Chunks = make([]manager.Chunk, 0, len(entries))
	for _, e := range entries {
		ch, err := decodeEntry(e)
		if err != nil {
			return Page{}, fmt.Errorf("cluster: read stream %s: %w", id, err)
		}
		p.Chunks = append(p.Chunks, ch)
	}
	if manager.Status(status) != manager.StatusActive {
		reason, _ := r[3].ToString()
		errJSON, _ := r[4].ToString()
		se, err := decodeError(errJSON)
		if err != nil {
			return Page{}, fmt.Errorf("cluster: read stream %s: close error: %w", id, err)
		}
		p.Closed = &Closed{Status: manager.Status(status), Reason: reason, Err: se, LastChunkID: last}
	}
	return p, nil
}

// decodeEntry reads one history entry: ID "<n>-0" and fields d (data), e (event), f (error flag),
// t (time µs).
func decodeEntry(e rueidis.RedisMessage) (manager.Chunk, error) {
	xe, err := e.AsXRangeEntry()
	if err != nil {
		return manager.Chunk{}, fmt.Errorf("history entry: %w", err)
	}
	n, _, _ := strings.Cut(xe.ID, "-")
	id, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return manager.Chunk{}, fmt.Errorf("history entry %q: %w", xe.ID, err)
	}
	t, err := parseMicros(xe.FieldValues["t"])
	if err != nil {
		return manager.Chunk{}, fmt.Errorf("history entry %q: time: %w", xe.ID, err)
	}
	return makeChunk(id, t, xe.FieldValues["f"] == "1", xe.FieldValues["e"], xe.FieldValues["d"])
}

package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// MessageKind tells the messages of a live subscription apart.
type MessageKind int

// Message kinds.
const (
	// MessageChunk carries a chunk appended to the stream.
	MessageChunk MessageKind = iota
	// MessageClosed says the stream closed; no chunk follows Closed.LastChunkID.
	MessageClosed
	// MessageResync says the live connection was lost and is back: messages published meanwhile
	// were missed, so the subscriber reads the history after the last chunk it has.
	MessageResync
)

// Message is one event of a live subscription.
type Message struct {
	Kind   MessageKind
	Chunk  manager.Chunk // MessageChunk
	Closed Closed        // MessageClosed
}

// The live messages the scripts publish (see luaHelpers):
//
//	c <id> <time µs> <error flag> <event length>\n<event><data>
//	x <status> <last chunk ID> <reason length>\n<reason><error JSON>
//
// Lengths rather than separators keep any bytes of data, event and reason intact.

// decodeMessage reads one live message.
func decodeMessage(payload string) (Message, error) {
	head, body, ok := strings.Cut(payload, "\n")
	if !ok {
		return Message{}, fmt.Errorf("live message has no header line")
	}
	f := strings.Fields(head)
	switch {
	case len(f) == 5 && f[0] == "c":
		return decodeChunkMessage(f, body)
	case len(f) == 4 && f[0] == "x":
		return decodeCloseMessage(f, body)
	}
	return Message{}, fmt.Errorf("live message header %q is not a chunk or a close", head)
}

func decodeChunkMessage(f []string, body string) (Message, error) {
	id, err1 := strconv.ParseUint(f[1], 10, 64)
	t, err2 := parseMicros(f[2])
	n, err3 := strconv.Atoi(f[4])
	if err1 != nil || err2 != nil || err3 != nil || n < 0 || n > len(body) {
		return Message{}, fmt.Errorf("live chunk header %q is malformed", strings.Join(f, " "))
	}
	ch, err := makeChunk(id, t, f[3] == "1", body[:n], body[n:])
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: MessageChunk, Chunk: ch}, nil
}

func decodeCloseMessage(f []string, body string) (Message, error) {
	last, err1 := strconv.ParseUint(f[2], 10, 64)
	n, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil || n < 0 || n > len(body) {
		return Message{}, fmt.Errorf("live close header %q is malformed", strings.Join(f, " "))
	}
	se, err := decodeError(body[n:])
	if err != nil {
		return Message{}, fmt.Errorf("live close error: %w", err)
	}
	return Message{Kind: MessageClosed, Closed: Closed{Status: manager.Status(f[1]), Reason: body[:n], Err: se, LastChunkID: last}}, nil
}

// makeChunk builds a chunk as the manager makes it: an error chunk's Err is its data decoded.
func makeChunk(id uint64, t time.Time, isErr bool, event, data string) (manager.Chunk, error) {
	ch := manager.Chunk{ID: id, Event: event, Data: []byte(data), Time: t}
	if isErr {
		se, err := decodeError(data)
		if err != nil {
			return manager.Chunk{}, fmt.Errorf("error chunk %d: %w", id, err)
		}
		ch.Err = se
	}
	return ch, nil
}

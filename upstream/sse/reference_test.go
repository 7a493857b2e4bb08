package sse_test

import (
	"bytes"
	"strconv"

	"github.com/streamgate/streamgate/upstream/sse"
)

// referenceParse is a deliberately naive transcription of the WHATWG event stream interpretation
// (plus the package's size limit) over a whole input held in memory. It shares no code with
// Reader and serves as the oracle of the golden and fuzz tests.
func referenceParse(input []byte, maxEventSize int, seedID string) readLog {
	if maxEventSize <= 0 {
		maxEventSize = sse.DefaultMaxEventSize
	}
	input = bytes.TrimPrefix(input, []byte("\xEF\xBB\xBF"))
	var (
		log               readLog
		ignored           []text
		data, eventType   []byte
		haveData, discard bool
		idBuffer, lastID  = seedID, seedID
		retryMillis       int64
	)
	emit := func(res result) {
		res.RetryMillis, res.Ignored = retryMillis, ignored
		ignored = nil
		log.Results = append(log.Results, res)
	}
	for {
		end := bytes.IndexAny(input, "\r\n")
		if end < 0 {
			if !discard && len(data)+len(input) > maxEventSize {
				emit(result{Err: "ErrEventTooLarge"})
			}
			break
		}
		line := input[:end]
		next := end + 1
		if input[end] == '\r' && next < len(input) && input[next] == '\n' {
			next++
		}
		input = input[next:]

		switch {
		case !discard && len(data)+len(line) > maxEventSize:
			emit(result{Err: "ErrEventTooLarge"})
			data, haveData, discard = nil, false, true
			continue
		case discard && len(line) > maxEventSize:
			continue
		}

		if len(line) == 0 {
			lastID = idBuffer
			if haveData && !discard {
				typ := string(eventType)
				if typ == "" {
					typ = "message"
				}
				d := append(text{}, data[:len(data)-1]...)
				emit(result{Type: typ, Data: &d, LastEventID: lastID})
			}
			data, eventType, haveData, discard = nil, nil, false, false
			continue
		}
		if line[0] == ':' {
			ignored = append(ignored, append(text{}, line...))
			continue
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if found && len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(name) {
		case "data":
			if !discard {
				data = append(append(data, value...), '\n')
				haveData = true
			}
		case "event":
			eventType = append([]byte{}, value...)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				idBuffer = string(value)
			}
		case "retry":
			if n, err := strconv.ParseUint(string(value), 10, 64); err == nil && allDigits(value) && n <= 9223372036854 {
				retryMillis = int64(n)
			}
		default:
			ignored = append(ignored, append(text{}, line...))
		}
	}
	if len(ignored) > 0 {
		emit(result{})
	}
	log.End, log.LastEventID, log.RetryMillis = "EOF", lastID, retryMillis
	return log
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

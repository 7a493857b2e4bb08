package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// logState is what Open learns from an existing file.
type logState struct {
	size   int64  // bytes of complete lines
	lastID uint64 // the highest chunk ID written; 0 when none
	closed bool   // the last line is a close line
}

// openLog opens (or creates) a stream's file, reads what it holds and cuts off a torn last line,
// left by a crash in the middle of a write.
func openLog(path string) (*os.File, logState, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, logState{}, fmt.Errorf("open %s: %w", path, err)
	}
	st, err := scanLog(f)
	if err == nil {
		err = cutTail(f, st.size)
	}
	if err != nil {
		_ = f.Close() // the read error is the one to report
		return nil, logState{}, fmt.Errorf("read %s: %w", path, err)
	}
	return f, st, nil
}

// scanLog reads every complete line of r.
func scanLog(r io.Reader) (logState, error) {
	var st logState
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return st, nil // a line without '\n' is torn and not counted
		}
		if err != nil {
			return st, err
		}
		var l struct {
			ID     *uint64 `json:"id"`
			Closed bool    `json:"closed"`
		}
		if err := json.Unmarshal(bytes.TrimSpace(line), &l); err != nil {
			return st, fmt.Errorf("line at byte %d is not JSON: %w", st.size, err)
		}
		st.size += int64(len(line))
		st.closed = l.Closed
		if l.ID != nil && *l.ID > st.lastID {
			st.lastID = *l.ID
		}
	}
}

func cutTail(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == size {
		return nil
	}
	return f.Truncate(size)
}

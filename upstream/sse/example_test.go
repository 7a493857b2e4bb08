package sse_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/streamgate/streamgate/upstream/sse"
)

func ExampleReader() {
	body := strings.NewReader("retry: 2000\r\nid: 7\r\nevent: delta\r\ndata: {\"text\":\"Hel\"}\r\n\r\n: keep-alive\r\ndata: {\"text\":\"lo\"}\r\n\r\n")
	r := sse.NewReader(body)
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%s %s id=%s\n", ev.Type, ev.Data, ev.LastEventID)
	}
	fmt.Println("resume with Last-Event-ID", r.LastEventID(), "after", r.Retry())
	// Output:
	// delta {"text":"Hel"} id=7
	// message {"text":"lo"} id=7
	// resume with Last-Event-ID 7 after 2s
}

func ExampleEncoder() {
	frame, _ := sse.AppendEvent(nil, sse.Event{Data: []byte(`{"candidates":[]}`)}, false, sse.CRLF)
	fmt.Printf("%q\n", frame)

	gateway := sse.NewEncoder(os.Stdout, sse.LF)
	_ = gateway.Encode(sse.Event{Type: "chunk", Data: []byte("two\nlines"), LastEventID: "42"}, true)
	err := gateway.Encode(sse.Event{Data: []byte("a\r\nb")}, false)
	fmt.Println(errors.Is(err, sse.ErrInvalidField))
	// Output:
	// "data: {\"candidates\":[]}\r\n\r\n"
	// id: 42
	// event: chunk
	// data: two
	// data: lines
	//
	// true
}

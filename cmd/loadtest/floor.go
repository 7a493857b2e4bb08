package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
)

// floorStreamID is the one stream the floor serves.
const floorStreamID = "floor"

// floor is the raw-TCP floor of fan-out: the same stream API calls the load test makes of the
// gateway (create, info, events, push, delete), but each subscriber's connection is hijacked
// after its request and every pushed event is one write per connection of the frame the gateway
// would send, HTTP/1.1 chunk framing included, and nothing else: no queue, no goroutine per
// subscriber, no history. The writes are spread over GOMAXPROCS goroutines, each owning a share of
// the connections, as the gateway's handler goroutines spread over the cores.
type floor struct {
	mu     sync.Mutex // orders pushes, guards conns and id
	conns  []net.Conn
	id     uint64
	shards int
	buf    []byte
}

func newFloor() *floor { return &floor{shards: runtime.GOMAXPROCS(0)} }

func (f *floor) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/streams", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q}`, floorStreamID)
	})
	mux.HandleFunc("GET /v1/streams/{id}", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		n := len(f.conns)
		f.mu.Unlock()
		fmt.Fprintf(w, `{"id":%q,"clients":%d}`, floorStreamID, n)
	})
	mux.HandleFunc("GET /v1/streams/{id}/events", f.subscribe)
	mux.HandleFunc("POST /v1/streams/{id}/chunks", f.push)
	mux.HandleFunc("DELETE /v1/streams/{id}", f.close)
	return mux
}

// subscribe takes the connection over and sends the event-stream response headers.
func (f *floor) subscribe(w http.ResponseWriter, _ *http.Request) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_ = brw // a GET has no body left to read
	if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
		conn.Close()
		return
	}
	f.mu.Lock()
	f.conns = append(f.conns, conn)
	f.mu.Unlock()
}

// push writes the pushed data as the next event to every subscriber, then answers.
func (f *floor) push(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.id++
	f.buf = f.buf[:0]
	f.buf = strconv.AppendUint(append(f.buf, "id: "...), f.id, 10)
	f.buf = append(append(append(f.buf, "\ndata: "...), in.Data...), "\n\n"...)
	f.writeAll(chunked(f.buf))
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"id":%d}`, f.id)
}

// close ends every response with the gateway's last frame and closes the connections.
func (f *floor) close(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeAll(append(chunked([]byte("event: done\ndata: {\"status\":\"completed\",\"reason\":\"deleted\"}\n\n")), "0\r\n\r\n"...))
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
	fmt.Fprint(w, `{}`)
}

// writeAll writes frame to every connection once, the connections split between the shards.
// f.mu must be held.
func (f *floor) writeAll(frame []byte) {
	var wg sync.WaitGroup
	per := (len(f.conns) + f.shards - 1) / f.shards
	for lo := 0; lo < len(f.conns); lo += per {
		share := f.conns[lo:min(lo+per, len(f.conns))]
		wg.Go(func() {
			for _, c := range share {
				_, _ = c.Write(frame) // a failed subscriber shows as missing deliveries
			}
		})
	}
	wg.Wait()
}

// chunked wraps b in one HTTP/1.1 chunk.
func chunked(b []byte) []byte {
	out := strconv.AppendInt(nil, int64(len(b)), 16)
	out = append(append(append(out, "\r\n"...), b...), "\r\n"...)
	return out
}

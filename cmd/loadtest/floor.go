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
	"syscall"
	"time"
)

// floorStreamID is the one stream the floor serves.
const floorStreamID = "floor"

// floor is the raw-TCP floor of fan-out: the same stream API calls the load test makes of the
// gateway (create, info, events, push, delete), but each subscriber's connection is hijacked
// after its request and every pushed event is one write system call per connection of the frame
// the gateway would send, HTTP/1.1 chunk framing included, and nothing else: no queue, no
// goroutine per subscriber, no history, no encoding per subscriber. The writes are spread over
// GOMAXPROCS goroutines, each owning a share of the connections, as the gateway's handler
// goroutines spread over the cores. A write never blocks: what a full socket buffer did not take
// is left to that connection's own goroutine (rawConn.behind), so one slow reader delays only
// itself, as in the gateway.
type floor struct {
	mu     sync.Mutex // orders pushes, guards conns and id
	conns  []*rawConn
	id     uint64
	shards int
	buf    []byte
}

// rawConn is one subscriber's connection of the floor.
type rawConn struct {
	conn net.Conn
	raw  syscall.RawConn

	mu      sync.Mutex
	pending []byte // what the socket did not take yet, in order; written by drain
	behind  bool   // drain is running
}

func newRawConn(c net.Conn) (*rawConn, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil, fmt.Errorf("%T is not a TCP connection", c)
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &rawConn{conn: c, raw: raw}, nil
}

// write makes one non-blocking write of b, or queues b behind what is pending.
func (r *rawConn) write(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.behind {
		r.pending = append(r.pending, b...)
		return
	}
	n := 0
	_ = r.raw.Write(func(fd uintptr) bool {
		var err error
		n, err = syscall.Write(int(fd), b)
		if err != nil {
			n = 0
		}
		return true // never wait for the socket here
	})
	if n == len(b) {
		return
	}
	r.pending = append(r.pending[:0], b[n:]...)
	r.behind = true
	go r.drain()
}

// drain writes what is pending, blocking, until it catches up.
func (r *rawConn) drain() {
	for {
		r.mu.Lock()
		b := r.pending
		r.pending = nil
		if len(b) == 0 {
			r.behind = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		if _, err := r.conn.Write(b); err != nil {
			return // a failed subscriber shows as missing deliveries
		}
	}
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
	rc, err := newRawConn(conn)
	if err != nil {
		conn.Close()
		return
	}
	f.mu.Lock()
	f.conns = append(f.conns, rc)
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
	time.Sleep(time.Second) // let the connections that are behind catch up
	for _, c := range f.conns {
		c.conn.Close()
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
				c.write(frame)
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

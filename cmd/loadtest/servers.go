package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// serveUntilStdinCloses serves h on a loopback port, prints its URL, and stops when stdin closes.
func serveUntilStdinCloses(h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Println("http://" + ln.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	<-served
	return nil
}

// fakeGemini answers every streamGenerateContent call with o.events Gemini chunks, event k
// written at arrival + k*o.interval (an absolute schedule, so a late write does not delay the
// next). Each chunk's text starts with the time it was due, in Unix nanoseconds, so a client can
// tell how late it arrived whatever stood in between; the last chunk has finishReason STOP.
type fakeGemini struct {
	events   int
	interval time.Duration
	pad      string
}

func (f fakeGemini) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, ":streamGenerateContent") {
		http.Error(w, `{"error":{"code":404,"message":"not found","status":"NOT_FOUND"}}`, http.StatusNotFound)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	buf := make([]byte, 0, 512)
	for k := 1; k <= f.events; k++ {
		due := start.Add(time.Duration(k) * f.interval)
		if d := time.Until(due); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		buf = f.appendFrame(buf[:0], due, k == f.events)
		if _, err := w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// appendFrame appends one Gemini event, CRLF-framed as Gemini frames them.
func (f fakeGemini) appendFrame(b []byte, due time.Time, final bool) []byte {
	b = append(b, `data: {"candidates":[{"content":{"parts":[{"text":"`...)
	b = strconv.AppendInt(b, due.UnixNano(), 10)
	b = append(b, ' ')
	b = append(b, f.pad...)
	b = append(b, `"}],"role":"model"}`...)
	if final {
		b = append(b, `,"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":64,"totalTokenCount":68}`...)
	} else {
		b = append(b, `}]`...)
	}
	b = append(b, `,"modelVersion":"fake-model","responseId":"fake-response"}`+"\r\n\r\n"...)
	return b
}

// newReverseProxy is the baseline: a bare httputil.ReverseProxy to target flushing every write,
// with the upstream connection pool streamgate's runner has (upstream.newTransport).
func newReverseProxy(target string) (http.Handler, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Header.Set("x-goog-api-key", "fake-upstream-key")
		},
		FlushInterval: -1,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}, nil
}

// Command fakegemini serves the scriptable fake Gemini API of package upstreamtest for load tests
// and manual runs: every streamGenerateContent request gets the same generated reply, at the pace
// the flags set; generateContent gets the whole reply at once. Gemini's OpenAI-compatible
// endpoints (/v1beta/openai/chat/completions, embeddings, models) answer with the fake's fixed
// replies in OpenAI's dialect, a chat completion streamed when the request asks for "stream": true.
//
//	fakegemini -addr 127.0.0.1:8081 -chunks 20 -size 64 -interval 20ms
//
// It prints one line with its URL when it is ready, and exits 0 on SIGINT or SIGTERM after the
// requests in flight end (stalled ones are released).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fakegemini:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// options are the command's flags.
type options struct {
	addr       string
	chunks     int
	size       int
	interval   time.Duration
	firstDelay time.Duration
	framing    string
	apiKey     string
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("fakegemini", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "listen address (port 0 picks a free port)")
	fs.IntVar(&o.chunks, "chunks", 20, "chunks per streamed reply")
	fs.IntVar(&o.size, "size", 64, "bytes of text per chunk")
	fs.DurationVar(&o.interval, "interval", 20*time.Millisecond, "pause before each chunk")
	fs.DurationVar(&o.firstDelay, "first-delay", 0, "extra pause before the first chunk")
	fs.StringVar(&o.framing, "framing", "crlf", "event line endings: crlf (Gemini's), lf or cr")
	fs.StringVar(&o.apiKey, "key", "", "API key to require in x-goog-api-key (empty: accept any request)")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case o.chunks < 1:
		return o, fmt.Errorf("%w: -chunks must be at least 1", errUsage)
	case o.size < 0, o.interval < 0, o.firstDelay < 0:
		return o, fmt.Errorf("%w: -size, -interval and -first-delay must not be negative", errUsage)
	}
	return o, nil
}

func (o options) script() (upstreamtest.Script, error) {
	sc := upstreamtest.Gemini(upstreamtest.Texts(o.chunks, o.size)...).Paced(o.interval)
	sc.Steps[0].Delay += o.firstDelay
	switch o.framing {
	case "crlf":
		sc.Framing = upstreamtest.CRLF
	case "lf":
		sc.Framing = upstreamtest.LF
	case "cr":
		sc.Framing = upstreamtest.CR
	default:
		return sc, fmt.Errorf("%w: -framing must be crlf, lf or cr (got %q)", errUsage, o.framing)
	}
	return sc, nil
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	sc, err := o.script()
	if err != nil {
		return err
	}
	fake := upstreamtest.NewFake(sc)
	if o.apiKey != "" {
		fake.RequireAPIKey(o.apiKey)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "fakegemini listening on http://%s (%d chunks of %d bytes, %s apart)\n", ln.Addr(), o.chunks, o.size, o.interval)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fake.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	<-served
	fmt.Fprintf(out, "fakegemini served %d requests (%d cancelled)\n", fake.RequestCount(), fake.CancelledCount())
	return nil
}

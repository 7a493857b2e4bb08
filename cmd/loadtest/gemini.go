package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// geminiOptions are the flags of -mode gemini.
type geminiOptions struct {
	ladder    []int
	events    int
	interval  time.Duration
	size      int
	levelTime time.Duration
	late      time.Duration
	cpuAt     int
	binary    string
	logLevel  string
	retain    time.Duration // manager.retain_closed; 0 keeps the shipped default
}

// streamgateConfig is the configuration the streamgate process runs with: the shipped defaults
// but for the limits that would refuse the load (streams per tenant and in all, the per-key rate,
// connections), the admin listener (off), the log level and, with -retain-closed, how long a
// finished stream is kept for replay (retainLine).
const streamgateConfig = `listen: 127.0.0.1:0
upstream:
  kind: gemini
  base_url: %s
  api_key: fake-upstream-key
manager:
  max_streams: 20000
%s  tenant_limits:
    default: {max_streams: 20000}
limits:
  rate: {per_key_rps: 0}
  max_connections: 15000
log:
  level: %s
admin:
  listen: ""
`

// runGemini runs the concurrency ladder of the Gemini route against streamgate and a bare
// httputil.ReverseProxy, each its own process in front of the same fake Gemini (a third), and
// prints the figures side by side.
func runGemini(o geminiOptions) error {
	top := slices.Max(o.ladder)
	if err := raiseFileLimit(uint64(top + 1024)); err != nil {
		return err
	}
	if err := checkPorts(top + 1024); err != nil {
		return err
	}
	fake, err := startRole("fake", "-events", strconv.Itoa(o.events), "-interval", o.interval.String(), "-payload", strconv.Itoa(o.size))
	if err != nil {
		return err
	}
	defer fake.stop()
	proxy, err := startRole("proxy", "-url", fake.url)
	if err != nil {
		return err
	}
	defer proxy.stop()
	sg, err := startStreamgate(o, fake.url)
	if err != nil {
		return err
	}
	defer sg.stop()
	targets := []*child{proxy, sg}

	fmt.Printf("fake Gemini %s: %d events %v apart; proxy pid %d %s; streamgate pid %d %s\n",
		fake.url, o.events, o.interval, proxy.pid(), proxy.url, sg.pid(), sg.url)
	fmt.Printf("load average before: %s\n", loadAverage())
	results := make(map[string][]levelResult)
	for _, n := range o.ladder {
		for _, tg := range targets { // alternately, so that both see the same machine
			r, err := runLevel(tg, n, o)
			if err != nil {
				return fmt.Errorf("%s at %d streams: %w", tg.name, n, err)
			}
			results[tg.name] = append(results[tg.name], r)
			fmt.Printf("  %-10s %5d streams: %s\n", tg.name, n, r)
			time.Sleep(time.Second)
		}
	}
	fmt.Printf("load average after: %s\n", loadAverage())
	printGeminiSummary(o, results[proxy.name], results[sg.name])
	return nil
}

// streamgateBinary returns bin, or when it is empty builds ./cmd/streamgate into dir.
func streamgateBinary(bin, dir string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(dir, "streamgate")
	build := exec.Command("go", "build", "-o", bin, "github.com/streamgate/streamgate/cmd/streamgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build streamgate (or give -streamgate): %w", err)
	}
	return bin, nil
}

// retainLine is the manager's retain_closed line of streamgateConfig: none for 0, the shipped
// default (5m), under which every stream a rung finishes stays in memory for replay, which a
// proxy cannot offer; a short one shows the RSS of the concurrent streams alone.
func retainLine(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return "  retain_closed: " + d.String() + "\n"
}

// startStreamgate builds (unless -streamgate names a binary) and starts the streamgate command.
func startStreamgate(o geminiOptions, fakeURL string) (*child, error) {
	dir, err := os.MkdirTemp("", "loadtest")
	if err != nil {
		return nil, err
	}
	bin, err := streamgateBinary(o.binary, dir)
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "streamgate.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, streamgateConfig, fakeURL, retainLine(o.retain), o.logLevel), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-config", cfg)
	c, err := startChild("streamgate", cmd, func(line string) (string, bool) {
		rest, ok := strings.CutPrefix(line, "streamgate ready on ")
		if !ok {
			return "", false
		}
		u, _, _ := strings.Cut(rest, " ")
		return u, strings.HasPrefix(u, "http://")
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: streamgate process:", err)
		}
		os.RemoveAll(dir)
	}
	return c, nil
}

// levelResult is one rung of the ladder for one target.
type levelResult struct {
	streams   int           // concurrent streams held
	completed int           // streams read to their end
	failed    int           // streams that failed or came short
	chunks    int           // chunks received
	p50, p99  time.Duration // lateness: arrival - due time of the chunk at the fake
	maxLate   time.Duration
	cpu       time.Duration // the target process's CPU time during the rung
	rss       int64         // the target's peak RSS during the rung
	late      time.Duration // the sustained bound
}

func (r levelResult) sustained() bool { return r.failed == 0 && r.completed > 0 && r.maxLate <= r.late }

func (r levelResult) cpuPerStream() time.Duration {
	if r.completed == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.completed)
}

func (r levelResult) String() string {
	return fmt.Sprintf("%d streams done (%d failed), %d chunks, late p50 %v p99 %v max %v, CPU %v (%v/stream), RSS %.0f MiB, sustained %v",
		r.completed, r.failed, r.chunks, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond),
		r.maxLate.Round(10*time.Microsecond), r.cpu, r.cpuPerStream().Round(time.Microsecond), mib(r.rss), r.sustained())
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// runLevel holds n concurrent Gemini-route streams on the target for o.levelTime: n callers,
// their starts spread over one stream's length, each opening a new stream as soon as its last
// ended (on one keep-alive connection). It measures how late every chunk arrived against the time
// the fake was due to write it, and the target's CPU time and peak RSS meanwhile.
func runLevel(tg *child, n int, o geminiOptions) (levelResult, error) {
	addr := strings.TrimPrefix(tg.url, "http://")
	body := `{"contents":[{"role":"user","parts":[{"text":"Hello"}]}]}`
	req := []byte("POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse HTTP/1.1\r\nHost: " + addr +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	period := time.Duration(o.events) * o.interval
	cpu0, err := tg.cpu()
	if err != nil {
		return levelResult{}, err
	}
	rss := sampleRSS(tg)
	start := time.Now()
	end := start.Add(o.levelTime)
	callers := make([]*caller, n)
	var wg sync.WaitGroup
	for i := range callers {
		c := &caller{addr: addr, req: req, events: o.events}
		callers[i] = c
		wg.Go(func() {
			time.Sleep(time.Until(start.Add(period * time.Duration(i) / time.Duration(n))))
			for time.Now().Before(end) {
				c.stream()
			}
			c.close()
		})
	}
	wg.Wait()
	cpu1, err := tg.cpu()
	if err != nil {
		return levelResult{}, err
	}
	r := levelResult{streams: n, cpu: cpu1 - cpu0, rss: rss.stop(), late: o.late}
	var all []int32
	for _, c := range callers {
		r.completed += c.completed
		r.failed += c.failed
		all = append(all, c.late...)
	}
	r.chunks = len(all)
	slices.Sort(all)
	if len(all) > 0 {
		at := func(p float64) time.Duration {
			return time.Duration(all[min(len(all)-1, int(float64(len(all))*p))]) * time.Microsecond
		}
		r.p50, r.p99, r.maxLate = at(0.50), at(0.99), at(1)
	}
	if r.failed > 0 {
		r.maxLate = max(r.maxLate, o.late+1) // a failed stream is never sustained
	}
	return r, nil
}

// caller is one client of the Gemini route, on its own keep-alive connection.
type caller struct {
	addr      string
	req       []byte
	events    int
	conn      net.Conn
	br        *bufio.Reader
	body      *bufio.Reader
	late      []int32 // µs per chunk
	completed int
	failed    int
	lastErr   error
}

// stream makes one streaming call and reads it to its end; a failure closes the connection.
func (c *caller) stream() {
	if err := c.try(); err != nil {
		c.failed++
		if c.failed == 1 {
			fmt.Fprintln(os.Stderr, "loadtest: stream:", err)
		}
		c.close()
		time.Sleep(10 * time.Millisecond)
		return
	}
	c.completed++
}

func (c *caller) try() error {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return err
		}
		c.conn = conn
		c.br = bufio.NewReaderSize(conn, 4096)
	}
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if c.body == nil {
		c.body = bufio.NewReaderSize(resp.Body, 4096)
	} else {
		c.body.Reset(resp.Body)
	}
	got := 0
	for {
		line, err := c.body.ReadSlice('\n')
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		rest, ok := bytes.CutPrefix(line, []byte(`data: {"candidates":[{"content":{"parts":[{"text":"`))
		if !ok {
			continue
		}
		now := time.Now().UnixNano()
		c.late = append(c.late, int32((now-field(rest, 0))/1000))
		got++
	}
	if got != c.events {
		return fmt.Errorf("%d of %d chunks", got, c.events)
	}
	if resp.Close {
		c.close()
	}
	return nil
}

func (c *caller) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// printGeminiSummary prints the figures for both targets and their ratios.
func printGeminiSummary(o geminiOptions, proxy, sg []levelResult) {
	sustained := func(rs []levelResult) int {
		best := 0
		for _, r := range rs {
			if r.sustained() {
				best = max(best, r.streams)
			}
		}
		return best
	}
	at := func(rs []levelResult) (levelResult, bool) {
		for _, r := range rs {
			if r.streams == o.cpuAt {
				return r, true
			}
		}
		return levelResult{}, false
	}
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	fmt.Println()
	fmt.Printf("%-44s %14s %14s %8s\n", "figure", "streamgate", "ReverseProxy", "ratio")
	ps, ss := sustained(proxy), sustained(sg)
	fmt.Printf("%-44s %14d %14d %8s\n", fmt.Sprintf("concurrent streams sustained (max late <= %v)", o.late), ss, ps, ratio(float64(ps), float64(ss)))
	p, okP := at(proxy)
	s, okS := at(sg)
	if okP && okS {
		fmt.Printf("%-44s %14s %14s %8s\n", fmt.Sprintf("CPU per stream at %d streams", o.cpuAt),
			s.cpuPerStream().Round(time.Microsecond), p.cpuPerStream().Round(time.Microsecond),
			ratio(float64(s.cpuPerStream()), float64(p.cpuPerStream())))
		fmt.Printf("%-44s %11.0f MiB %10.0f MiB %8s\n", fmt.Sprintf("RSS at %d streams", o.cpuAt), mib(s.rss), mib(p.rss), ratio(float64(s.rss), float64(p.rss)))
		fmt.Printf("%-44s %14s %14s %8s\n", fmt.Sprintf("chunk lateness p99 at %d streams", o.cpuAt),
			s.p99.Round(10*time.Microsecond), p.p99.Round(10*time.Microsecond), ratio(float64(s.p99), float64(p.p99)))
	}
	fmt.Println("(the ratio is streamgate / ReverseProxy; for streams sustained, ReverseProxy / streamgate)")
}

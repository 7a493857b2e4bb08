package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// readyRe matches streamgate's ready line and captures its URL.
var readyRe = regexp.MustCompile(`^streamgate ready on (http://127\.0\.0\.1:\d+) `)

// clusterTargets returns the gateways' base URLs: -url's, or the replicas -redis starts; stop
// ends what it started.
func clusterTargets(o options) ([]string, func(), error) {
	switch {
	case o.url != "":
		var bases []string
		for u := range strings.SplitSeq(o.url, ",") {
			bases = append(bases, strings.TrimSuffix(strings.TrimSpace(u), "/"))
		}
		return bases, func() {}, nil
	case o.redis != "":
		return startReplicas(o)
	}
	return nil, nil, errors.New("-mode throughput needs cluster replicas: give -redis or -url a,b,c")
}

// startReplicas starts o.replicas streamgate processes (-streamgate, or one built from
// ./cmd/streamgate) sharing o.redis (open mode, no rate limit, the simulator making o.chunks
// chunks without pause) and returns their URLs; stop ends them with SIGINT.
func startReplicas(o options) ([]string, func(), error) {
	dir, err := os.MkdirTemp("", "loadtest-cluster")
	if err != nil {
		return nil, nil, err
	}
	var cmds []*exec.Cmd
	var wg sync.WaitGroup
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Signal(os.Interrupt)
		}
		wg.Wait()
		os.RemoveAll(dir)
	}
	bin, err := streamgateBinary(o.streamgate, dir)
	if err != nil {
		stop()
		return nil, nil, err
	}
	var bases []string
	maxStreams := o.streams + 1000
	for i := range o.replicas {
		cfg := filepath.Join(dir, fmt.Sprintf("r%d.yaml", i+1))
		yaml := fmt.Sprintf(`listen: 127.0.0.1:0
log: {level: warn}
upstream: {kind: simulator, simulator: {chunks: %d, interval: 0s, text: %q}}
cluster: {redis_url: %q, node_id: loadtest-r%d}
manager: {max_streams: %d, max_clients_per_stream: %d, tenant_limits: {default: {max_streams: %d}}}
limits: {rate: {per_key_rps: 0}, max_connections: %d}
`, o.chunks, strings.Repeat("word ", o.chunks), o.redis, i+1, maxStreams, o.subscribers+10, maxStreams, o.subscribers+o.streams+1000)
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			stop()
			return nil, nil, err
		}
		cmd := exec.Command(bin, "-config", cfg, "-admin", "127.0.0.1:0")
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			stop()
			return nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			stop()
			return nil, nil, fmt.Errorf("start %s: %w", bin, err)
		}
		cmds = append(cmds, cmd)
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		m := readyRe.FindStringSubmatch(line)
		if err != nil || m == nil {
			stop()
			return nil, nil, fmt.Errorf("replica %d: no ready line (%q, %v)", i+1, line, err)
		}
		bases = append(bases, m[1])
		wg.Go(func() {
			_, _ = r.WriteTo(discard{})
			_ = cmd.Wait()
		})
	}
	fmt.Printf("%d replicas on %s: %s\n", o.replicas, o.redis, strings.Join(bases, " "))
	return bases, stop, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// reportReplicas prints the delivery latency per replica, and per chunk what the subscribers of
// each other replica took over the fastest subscriber of the owner (replica 1).
func reportReplicas(subs []*subscriber, n int) {
	owner := map[int32]int32{} // chunk ID -> the owner's fastest delivery, µs
	for _, s := range subs {
		if s.target != 0 {
			continue
		}
		for i, id := range s.ids {
			if l, ok := owner[id]; !ok || s.lat[i] < l {
				owner[id] = s.lat[i]
			}
		}
	}
	for r := range n {
		var lat, added []int32
		if !slices.ContainsFunc(subs, func(s *subscriber) bool { return s.target == r }) {
			continue
		}
		for _, s := range subs {
			if s.target != r {
				continue
			}
			lat = append(lat, s.lat...)
			if r == 0 {
				continue
			}
			for i, id := range s.ids {
				if l, ok := owner[id]; ok {
					added = append(added, s.lat[i]-l)
				}
			}
		}
		fmt.Printf("replica %d: deliveries %d, latency p50 %v p99 %v", r+1, len(lat), pctMicros(lat, 0.50), pctMicros(lat, 0.99))
		if r > 0 {
			fmt.Printf("; added over the owner's subscriber, same chunk: p50 %v p99 %v", pctMicros(added, 0.50), pctMicros(added, 0.99))
		}
		fmt.Println()
	}
}

// pctMicros is the p-th percentile of µs values, as a duration.
func pctMicros(v []int32, p float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return time.Duration(v[min(len(v)-1, int(float64(len(v))*p))]) * time.Microsecond
}

// throughput creates o.streams generation streams round-robin over the replicas, each read by one
// subscriber on the next replica, and prints the chunks appended and delivered per second: from
// the first create to the last subscriber's `event: done`.
func throughput(o options) error {
	if err := raiseFileLimit(uint64(o.streams + 1024)); err != nil {
		return err
	}
	bases, stop, err := clusterTargets(o)
	if err != nil {
		return err
	}
	defer stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	apis := make([]*apiClient, len(bases))
	for i, base := range bases {
		apis[i] = &apiClient{base: base, key: o.key, http: client}
	}
	subs := make([]*subscriber, o.streams)
	var wg sync.WaitGroup
	var failed atomic.Value
	sem := make(chan struct{}, o.dialers)
	start := time.Now()
	for i := range subs {
		owner, reader := i%len(bases), (i+1)%len(bases)
		subs[i] = &subscriber{target: reader}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b, err := apis[owner].do("POST", "/v1/streams", `{"model":"gemini-2.5-flash","request":{"contents":[{"parts":[{"text":"Hello"}]}]}}`, http.StatusCreated)
			if err == nil {
				var out struct{ ID string }
				if err = json.Unmarshal(b, &out); err == nil {
					addr, request := eventsRequest(bases[reader], out.ID, o.key)
					err = subs[i].connect(addr, request)
				}
			}
			if err != nil {
				failed.Store(err)
				return
			}
			wg.Go(subs[i].read)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, ok := failed.Load().(error); ok {
		return fmt.Errorf("a stream failed: %w", err)
	}
	delivered, bad, short := 0, 0, 0
	var errs []error
	for _, s := range subs {
		delivered += int(s.lastID)
		bad += s.badIDs
		if int(s.lastID) != o.chunks {
			short++
		}
		if s.err != nil {
			errs = append(errs, s.err)
		}
	}
	fmt.Printf("streams %d over %d replicas, %d chunks each: %d chunks appended and delivered in %v = %.0f chunks/s; streams short of %d chunks %d, ID gaps or repeats %d\n",
		o.streams, len(bases), o.chunks, delivered, elapsed.Round(time.Millisecond), float64(delivered)/elapsed.Seconds(), o.chunks, short, bad)
	return errors.Join(errs...)
}

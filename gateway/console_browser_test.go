package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/internal/browsertest"
	"github.com/streamgate/streamgate/upstream"
)

// The console in a real headless Chromium, driven over the DevTools protocol: it asks for the key
// once per tab, shows a stream another client creates without a reload, starts a generation from
// the prompt box and assembles the simulator's whole text, while a second tab watches the same
// generation; it marks where a watched stream resumed after its connection dropped, and stops a
// stream and shows it closed. No console error, no request to another origin, and no key in a URL.
// Screenshots go to the test's artifact directory: go test -run TestBrowserConsole -artifacts
// -outputdir /tmp/streamgate-artifacts ./gateway keeps them.
func TestBrowserConsole(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (Debian package chromium); .ci/run installs it")
	}
	clock := &tokenClock{now: time.Now()}
	tokens := newTokens(t, clock, tokenSecret)
	e := newEnv(t, options{
		// The simulator, paced so that the second tab joins while the generation runs.
		provider: func(string) (upstream.Provider, error) {
			return upstream.NewSimulator(upstream.SimulatorConfig{Interval: 250 * time.Millisecond})
		},
		gateway: func(c *gateway.Config) {
			c.Tokens = tokens
			c.Version, c.Upstream = "v0.0.0-test", "simulator"
		},
	})
	// The page is loaded through a proxy that can drop every connection it has, as a network
	// failure would.
	proxy := newCutProxy(t, strings.TrimPrefix(e.url, "http://"))
	origin := proxy.url()
	br := newCDPBrowser(t, chromium)
	shots := t.ArtifactDir()

	tab1 := br.tab(t)
	tab1.do(t, chromedp.EmulateViewport(1280, 860), chromedp.Navigate(origin+"/"))
	tab1.enterKey(t, aliceKey)
	tab1.wait(t, `document.querySelector("#feed-state").textContent === "live"`)
	tab1.do(t, chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))

	// Another client of the tenant creates a stream: it appears without a reload.
	outside := e.createStream(carolKey, map[string]any{"id": "from-another-client"})
	tab1.wait(t, `document.querySelector('#streams tr[data-id="from-another-client"]') !== null`)
	assert.True(t, jsValue[bool](t, tab1, `window.notReloaded === true`), "the page was not reloaded")
	assert.Equal(t, []string{"from-another-client", "active", "push", "–", "api", "0", "0"},
		jsValue[[]string](t, tab1, `[...document.querySelectorAll('#streams tr[data-id="from-another-client"] td')].slice(0, 7).map(td => td.textContent)`))
	e.createStream(bobKey, map[string]any{"id": "another-tenant"})
	tab1.screenshot(t, shots, "1-streams.png")

	// Try it: a generation from the prompt box, watched in this tab and in a second one.
	tab1.do(t, chromedp.Click(chromedp.CSS(`nav a[data-view="try"]`)),
		chromedp.SetValue(chromedp.CSS("#try-prompt"), "Say hello"),
		chromedp.Click(chromedp.CSS("#try-go")))
	tab1.wait(t, `location.hash.startsWith("#watch/")`)
	id := strings.TrimPrefix(jsValue[string](t, tab1, `decodeURIComponent(location.hash)`), "#watch/")
	require.NotEmpty(t, id)
	tab2 := br.tab(t)
	tab2.do(t, chromedp.EmulateViewport(1280, 860), chromedp.Navigate(origin+"/#watch/"+id))
	tab2.enterKey(t, aliceKey) // sessionStorage is per tab
	for _, tab := range []*cdpTab{tab1, tab2} {
		tab.wait(t, `document.querySelector("#watch-status").textContent === "completed"`)
		assert.Equal(t, upstream.DefaultSimulatorText, jsValue[string](t, tab, `document.querySelector("#watch-text").textContent`))
		assert.Equal(t, "12", jsValue[string](t, tab, `document.querySelector("#watch-count").textContent`))
		assert.Equal(t, "closed: completed", jsValue[string](t, tab, `document.querySelector("#watch-end").textContent`))
	}
	tab1.screenshot(t, shots, "2-watch-tab1.png")
	tab2.screenshot(t, shots, "3-watch-tab2.png")
	tab2.do(t, chromedp.Click(chromedp.CSS("#watch-raw")))
	assert.Contains(t, jsValue[string](t, tab2, `document.querySelector("#watch-frames").textContent`), "id: 12\ndata: {\"candidates\"")
	tab2.screenshot(t, shots, "4-raw-frames.png")

	// Watch the other client's stream; its connection drops, and the EventSource resumes.
	tab1.do(t, chromedp.Click(chromedp.CSS(`nav a[data-view="streams"]`)),
		chromedp.Click(chromedp.CSS(`#streams tr[data-id="from-another-client"]`)))
	tab1.wait(t, `document.querySelector("#watch-status").textContent === "live"`)
	e.push(carolKey, outside, geminiText("one "), "")
	tab1.wait(t, `document.querySelector("#watch-count").textContent === "1"`)
	cut := br.mark()
	proxy.cut()
	e.push(carolKey, outside, geminiText("two"), "")
	tab1.wait(t, `document.querySelector("#watch-count").textContent === "2"`)
	assert.Equal(t, "one ⟳ resumed after chunk 1two", jsValue[string](t, tab1, `document.querySelector("#watch-text").textContent`))
	assert.Equal(t, "1", jsValue[string](t, tab1, `document.querySelector("#watch-resumes").textContent`))
	tab1.wait(t, `document.querySelector("#feed-state").textContent === "live (resumed)"`)
	// Again, once its token has expired: the EventSource's reconnection is refused, and the
	// console mints a new token and resumes from the last chunk.
	expired := br.mark()
	clock.Set(clock.Now().Add(11 * time.Minute))
	proxy.cut()
	e.push(carolKey, outside, geminiText(" three"), "")
	tab1.wait(t, `document.querySelector("#watch-count").textContent === "3"`)
	assert.Equal(t, "one ⟳ resumed after chunk 1two⟳ reconnected after chunk 2 with a new token three",
		jsValue[string](t, tab1, `document.querySelector("#watch-text").textContent`))
	assert.Equal(t, "2", jsValue[string](t, tab1, `document.querySelector("#watch-resumes").textContent`))
	resumed := br.mark()

	// Stop it: the watch view and the table show it closed.
	tab1.do(t, chromedp.Click(chromedp.CSS("#watch-stop")))
	tab1.wait(t, `document.querySelector("#watch-status").textContent === "completed"`)
	assert.Equal(t, "closed: deleted by client", jsValue[string](t, tab1, `document.querySelector("#watch-end").textContent`))
	tab1.wait(t, `document.querySelector('#streams tr[data-id="from-another-client"] td:nth-child(2)').textContent === "completed"`)
	assert.Equal(t, "completed", e.info(aliceKey, outside).Status)
	tab1.screenshot(t, shots, "5-stopped.png")

	tab1.do(t, chromedp.Click(chromedp.CSS(`nav a[data-view="health"]`)))
	tab1.wait(t, `document.querySelector("#health-version").textContent === "v0.0.0-test"`)
	assert.Equal(t, "simulator", jsValue[string](t, tab1, `document.querySelector("#health-upstream").textContent`))
	assert.Equal(t, "keys, stream tokens", jsValue[string](t, tab1, `document.querySelector("#health-access").textContent`))
	tab1.screenshot(t, shots, "6-health.png")

	msgs, reqs := br.record()
	for i, m := range msgs {
		// Chromium logs each response the proxy cut short, and the refusal of the expired token;
		// those are the test's doing.
		expected := m.source == "network" && (i >= cut && i < resumed && strings.Contains(m.text, "net::ERR_INCOMPLETE_CHUNKED_ENCODING") ||
			i >= expired && i < resumed && strings.Contains(m.text, "status of 401") && strings.Contains(m.text, "/events?token="))
		assert.False(t, m.error && !expected, "console error: %s", m.text)
	}
	require.NotEmpty(t, reqs)
	sawToken := false
	for _, u := range reqs {
		assert.True(t, strings.HasPrefix(u, origin+"/"), "a request to another origin: %s", u)
		assert.NotContains(t, u, "key=", "a key in a URL: %s", u)
		sawToken = sawToken || strings.Contains(u, "/events?") && strings.Contains(u, "token=")
	}
	assert.True(t, sawToken, "the EventSources read with stream tokens: %v", reqs)
	for _, key := range []string{aliceKey, carolKey} {
		assert.NotContains(t, e.logs.String(), key, "no key is logged")
	}
	t.Logf("screenshots in %s", shots)
}

// The console's two other ways to read a stream: an open gateway (no key asked, an EventSource
// with no credential) and one with keys but no token secret (fetch with the key header, since an
// EventSource could carry the key only in its URL).
func TestBrowserConsoleModes(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (Debian package chromium); .ci/run installs it")
	}
	simulator := func(string) (upstream.Provider, error) { return upstream.NewSimulator(upstream.SimulatorConfig{}) }
	for _, tc := range []struct {
		name   string
		open   bool
		access string
	}{
		{"open", true, "open (no keys)"},
		{"keys without tokens", false, "keys, no tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, options{open: tc.open, provider: simulator})
			br := newCDPBrowser(t, chromium)
			tab := br.tab(t)
			tab.do(t, chromedp.Navigate(e.url+"/#try"))
			if !tc.open {
				tab.enterKey(t, aliceKey)
			}
			tab.wait(t, `document.querySelector("#feed-state").textContent === "live"`)
			tab.do(t, chromedp.Click(chromedp.CSS("#try-go")))
			tab.wait(t, `document.querySelector("#watch-status").textContent === "completed"`)
			assert.Equal(t, upstream.DefaultSimulatorText, jsValue[string](t, tab, `document.querySelector("#watch-text").textContent`))
			tab.do(t, chromedp.Click(chromedp.CSS(`nav a[data-view="health"]`)))
			tab.wait(t, `document.querySelector("#health-access").textContent === `+jsString(tc.access))
			tab.screenshot(t, t.ArtifactDir(), "watch.png")

			msgs, reqs := br.record()
			for _, m := range msgs {
				assert.False(t, m.error, "console error: %s", m.text)
			}
			for _, u := range reqs {
				assert.True(t, strings.HasPrefix(u, e.url+"/"), "a request to another origin: %s", u)
				assert.NotContains(t, u, "key=", "a key in a URL: %s", u)
				assert.NotContains(t, u, "token=", "no token is minted: %s", u)
			}
		})
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// geminiText is a Gemini chunk carrying text.
func geminiText(text string) map[string]any {
	return map[string]any{"candidates": []any{map[string]any{"content": map[string]any{"parts": []any{map[string]any{"text": text}}}}}}
}

// cdpBrowser is a headless Chromium driven by chromedp over its DevTools pipe, with what its tabs
// logged and requested. The flags keep it off the network, as browsertest.Start's do.
type cdpBrowser struct {
	ctx context.Context // the browser's first tab, parent of the others

	mu       sync.Mutex
	messages []consoleMessage
	requests []string
}

type consoleMessage struct {
	source string // "console", "exception", or the browser log's source ("network", ...)
	text   string
	error  bool
}

func newCDPBrowser(t *testing.T, bin string) *cdpBrowser {
	t.Helper()
	dir := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Env("HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir),
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)...)
	b := &cdpBrowser{}
	ctx, cancel := chromedp.NewContext(alloc)
	b.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for range 100 {
			if len(browsertest.Processes(dir)) == 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("chromium processes outlived the test: %v", browsertest.Processes(dir))
	})
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return b
}

// listen records a tab's console messages and requests. It runs in the tab's event loop.
func (b *cdpBrowser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		args := make([]string, len(ev.Args))
		for i, a := range ev.Args {
			args[i] = string(a.Value)
			if a.Value == nil {
				args[i] = a.Description
			}
		}
		err := ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert
		b.messages = append(b.messages, consoleMessage{source: "console", text: "console." + string(ev.Type) + ": " + strings.Join(args, " "), error: err})
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		b.messages = append(b.messages, consoleMessage{source: "exception", text: "exception: " + text, error: true})
	case *log.EventEntryAdded:
		b.messages = append(b.messages, consoleMessage{source: string(ev.Entry.Source),
			text:  fmt.Sprintf("log %s %s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL),
			error: ev.Entry.Level == log.EntryLevelError})
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	}
}

// mark is the number of messages logged so far.
func (b *cdpBrowser) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.messages)
}

// record returns what the tabs logged and requested so far.
func (b *cdpBrowser) record() ([]consoleMessage, []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]consoleMessage(nil), b.messages...), append([]string(nil), b.requests...)
}

// cdpTab is one tab of the browser.
type cdpTab struct {
	b   *cdpBrowser
	ctx context.Context
}

// tab opens a new tab, closed when the test ends.
func (b *cdpBrowser) tab(t *testing.T) *cdpTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(b.listen))
	t.Cleanup(cancel)
	// The first Do opens the tab, bound to the context it is given: not one with a timeout.
	require.NoError(t, chromedp.Do(ctx), "open a tab")
	return &cdpTab{b: b, ctx: ctx}
}

// do runs actions in the tab within browserWait.
func (tab *cdpTab) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, browserWait)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, actions...), "%s", tab.b.tail())
}

// wait waits until the expression is true in the tab.
func (tab *cdpTab) wait(t *testing.T, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, browserWait)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		dctx, dcancel := context.WithTimeout(tab.ctx, 5*time.Second)
		defer dcancel()
		state, derr := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + " " + document.readyState + " " + document.body.innerText.slice(0, 300)`))
		t.Logf("page: %q %v", state, derr)
	}
	require.NoError(t, err, "waiting for %s\n%s", expr, tab.b.tail())
}

// enterKey answers the console's key dialog.
func (tab *cdpTab) enterKey(t *testing.T, key string) {
	t.Helper()
	tab.wait(t, `document.querySelector("#key-dialog").open`)
	tab.do(t, chromedp.SendKeys(chromedp.CSS("#key-input"), key), chromedp.Click(chromedp.CSS("#key-go")))
	tab.wait(t, `!document.querySelector("#key-dialog").open`)
}

func (tab *cdpTab) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}

// jsValue evaluates an expression in the tab.
func jsValue[T any](t *testing.T, tab *cdpTab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

// tail is the end of what the tabs logged, for failure messages.
func (b *cdpBrowser) tail() string {
	msgs, _ := b.record()
	var out []string
	for _, m := range msgs[max(0, len(msgs)-20):] {
		out = append(out, m.text)
	}
	js, _ := json.MarshalIndent(out, "", "  ")
	return "console (tail): " + string(js)
}

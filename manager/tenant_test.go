package manager_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

func tenantStream(t *testing.T, m *manager.Manager, tenant string) string {
	t.Helper()
	id, err := m.CreateStreamWith(ctx, manager.StreamOptions{Labels: map[string]string{manager.LabelTenant: tenant}})
	require.NoError(t, err)
	return id
}

func tenantUsage(t *testing.T, m *manager.Manager, tenant string) manager.Usage {
	t.Helper()
	u, err := m.TenantUsage(ctx, tenant)
	require.NoError(t, err)
	return u
}

// One tenant holding all of its stream slots is refused more, with a 429 naming its own limit,
// while another tenant still creates streams; an override raises one tenant's limit.
func TestTenantMaxStreams(t *testing.T) {
	m, _ := newManager(t, manager.Config{
		MaxConcurrentStreams: 10,
		DefaultQuota:         manager.Quota{MaxStreams: 2},
		Quotas:               map[string]manager.Quota{"big": {MaxStreams: 4}},
	})
	first := tenantStream(t, m, "acme")
	tenantStream(t, m, "acme")
	_, err := m.CreateStreamWith(ctx, manager.StreamOptions{Labels: map[string]string{manager.LabelTenant: "acme"}})
	require.ErrorIs(t, err, manager.ErrTooManyStreams)
	var le *manager.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, `create stream: too many concurrent streams (tenant "acme" limit 2)`, le.Error())
	require.True(t, le.PerTenant)
	require.Equal(t, 429, le.StreamError().Code)

	tenantStream(t, m, "globex")
	tenantStream(t, m, "globex")
	for range 4 {
		tenantStream(t, m, "big")
	}
	_, err = m.CreateStreamWith(ctx, manager.StreamOptions{Labels: map[string]string{manager.LabelTenant: "big"}})
	require.ErrorIs(t, err, manager.ErrTooManyStreams)
	_, err = m.CreateStream(ctx, "") // no tenant label: the tenant "", with the default quota
	require.NoError(t, err)

	require.NoError(t, m.CloseStream(ctx, first, "done"))
	tenantStream(t, m, "acme") // a closed stream frees its tenant's slot
	require.Equal(t, manager.Usage{Streams: 2, Retained: 1}, tenantUsage(t, m, "acme"))
}

// The global limit stays the ceiling whatever the quotas allow.
func TestTenantQuotasUnderTheGlobalCeiling(t *testing.T) {
	m, _ := newManager(t, manager.Config{MaxConcurrentStreams: 3, HistoryBytes: 20, MaxBytes: 50,
		DefaultQuota: manager.Quota{MaxStreams: 5, MaxBytes: 500}})
	a := tenantStream(t, m, "a")
	b := tenantStream(t, m, "b")
	c := tenantStream(t, m, "c")
	_, err := m.CreateStreamWith(ctx, manager.StreamOptions{Labels: map[string]string{manager.LabelTenant: "d"}})
	require.ErrorIs(t, err, manager.ErrTooManyStreams)
	require.Equal(t, "create stream: too many concurrent streams (limit 3)", err.Error())

	push(t, m, b, bytesOf(20))
	push(t, m, c, bytesOf(20))
	push(t, m, a, bytesOf(5), bytesOf(10)) // 50: the 10 fits by dropping a's own 5
	require.Equal(t, int64(10), streamBytes(t, m, a))
	_, err = m.Push(ctx, a, manager.Chunk{Data: []byte(bytesOf(11))})
	require.ErrorIs(t, err, manager.ErrBudgetExhausted)
	require.Equal(t, "push to stream "+a+": memory budget exhausted (limit 50 bytes)", err.Error())
}

// A tenant at its byte quota forgets its own retained closed streams first, oldest first, never
// another tenant's, and then is refused a new stream.
func TestTenantQuotaForgetsItsOwnClosedStreams(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 40, MaxBytes: 1000, DefaultQuota: manager.Quota{MaxBytes: 100}})
	otherClosed := tenantStream(t, m, "globex")
	push(t, m, otherClosed, bytesOf(30))
	require.NoError(t, m.CloseStream(ctx, otherClosed, "done"))

	hogClosed := tenantStream(t, m, "hog")
	push(t, m, hogClosed, bytesOf(30))
	require.NoError(t, m.CloseStream(ctx, hogClosed, "done"))
	s1 := tenantStream(t, m, "hog")
	push(t, m, s1, bytesOf(30))
	s2 := tenantStream(t, m, "hog") // 60 + 40 fits the quota of 100
	push(t, m, s2, bytesOf(30), bytesOf(10))
	require.Equal(t, manager.Usage{Streams: 2, Retained: 1, Bytes: 100}, tenantUsage(t, m, "hog"))

	push(t, m, s1, bytesOf(10)) // 110: hog's closed stream goes
	_, err := m.Info(ctx, hogClosed)
	require.ErrorIs(t, err, manager.ErrNotFound)
	require.Equal(t, manager.Usage{Streams: 2, Bytes: 80}, tenantUsage(t, m, "hog"))
	info, err := m.Info(ctx, otherClosed)
	require.NoError(t, err, "another tenant's closed stream is not forgotten for hog's quota")
	require.Equal(t, int64(30), info.Bytes)

	_, err = m.CreateStreamWith(ctx, manager.StreamOptions{Labels: map[string]string{manager.LabelTenant: "hog"}})
	require.ErrorIs(t, err, manager.ErrBudgetExhausted, "80 + one history of 40 is over hog's quota")
	require.Equal(t, `create stream: memory budget exhausted (tenant "hog" limit 100 bytes)`, err.Error())
	tenantStream(t, m, "globex")
}

// A tenant whose streams hold its whole quota is refused what adds bytes, while another tenant's
// running stream keeps growing and its new streams are created.
func TestTenantMaxBytesLeavesOtherTenantsAlone(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 40, MaxBytes: 300, DefaultQuota: manager.Quota{MaxBytes: 100}})
	other := tenantStream(t, m, "globex")
	push(t, m, other, bytesOf(5))
	s1 := tenantStream(t, m, "hog")
	push(t, m, s1, bytesOf(30))
	s2 := tenantStream(t, m, "hog")
	push(t, m, s2, bytesOf(30))
	s3 := tenantStream(t, m, "hog") // 60 + 40 fits
	push(t, m, s3, bytesOf(10))
	push(t, m, s1, bytesOf(10))
	push(t, m, s2, bytesOf(10))
	push(t, m, s3, bytesOf(10)) // 100: s1 and s2 at their bound of 40, s3 at 20
	require.Equal(t, int64(100), tenantUsage(t, m, "hog").Bytes)

	push(t, m, s3, bytesOf(1)) // rolls within what s3 holds: its oldest 10 goes
	require.Equal(t, int64(11), streamBytes(t, m, s3))
	_, err := m.Push(ctx, s3, manager.Chunk{Data: []byte(bytesOf(25))})
	require.ErrorIs(t, err, manager.ErrBudgetExhausted, "25 is more than s3's 11 and hog's 9 free")
	var le *manager.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, "push to stream "+s3+`: memory budget exhausted (tenant "hog" limit 100 bytes)`, le.Error())
	require.True(t, le.PerTenant)
	require.Equal(t, "hog", le.Tenant)
	require.Equal(t, int64(11), streamBytes(t, m, s3), "a refused push drops nothing")

	push(t, m, other, bytesOf(35)) // globex grows to its own bound, untouched by hog
	require.Equal(t, int64(40), streamBytes(t, m, other))
	more := tenantStream(t, m, "globex")
	push(t, m, more, bytesOf(40))
	require.Equal(t, manager.Usage{Streams: 2, Bytes: 80}, tenantUsage(t, m, "globex"))
	require.Equal(t, manager.Usage{Streams: 5, Bytes: 171}, usage(t, m))
}

// A tenant is forgotten with its last stream, and its usage with it.
func TestTenantUsageEndsWithItsLastStream(t *testing.T) {
	m, _ := newManager(t, manager.Config{MaxRetained: 1})
	a := tenantStream(t, m, "a")
	push(t, m, a, bytesOf(5))
	require.NoError(t, m.CloseStream(ctx, a, "done"))
	require.Equal(t, manager.Usage{Retained: 1, Bytes: 5}, tenantUsage(t, m, "a"))
	b := tenantStream(t, m, "b")
	require.NoError(t, m.CloseStream(ctx, b, "done")) // max_retained 1: a goes
	require.Equal(t, manager.Usage{}, tenantUsage(t, m, "a"))
	require.Equal(t, manager.Usage{Retained: 1}, tenantUsage(t, m, "b"))
}

func TestQuotaDefaultsAndValidation(t *testing.T) {
	m, err := manager.New(manager.Config{
		MaxConcurrentStreams: 100, HistoryBytes: 10, MaxBytes: 1000,
		DefaultQuota: manager.Quota{MaxStreams: 20},
		Quotas:       map[string]manager.Quota{"big": {MaxBytes: 500}, "small": {MaxStreams: 1, MaxBytes: 10}},
	})
	require.NoError(t, err)
	cfg := m.Config()
	require.Equal(t, manager.Quota{MaxStreams: 20, MaxBytes: 1000}, cfg.DefaultQuota, "zero fields take the global limits")
	require.Equal(t, manager.Quota{MaxStreams: 20, MaxBytes: 500}, cfg.QuotaFor("big"), "zero fields take the default quota")
	require.Equal(t, manager.Quota{MaxStreams: 1, MaxBytes: 10}, cfg.QuotaFor("small"))
	require.Equal(t, cfg.DefaultQuota, cfg.QuotaFor("anyone"))

	for _, tt := range []struct {
		name string
		cfg  manager.Config
		msg  string
	}{
		{"negative default", manager.Config{DefaultQuota: manager.Quota{MaxStreams: -1}}, "DefaultQuota must not be negative"},
		{"negative override", manager.Config{Quotas: map[string]manager.Quota{"a": {MaxBytes: -1}}}, `Quotas["a"] must not be negative`},
		{"default below a history", manager.Config{HistoryBytes: 10, DefaultQuota: manager.Quota{MaxBytes: 9}}, "DefaultQuota.MaxBytes (9) must be at least HistoryBytes (10)"},
		{"override below a history", manager.Config{HistoryBytes: 10, Quotas: map[string]manager.Quota{"a": {MaxBytes: 9}}}, `Quotas["a"].MaxBytes (9) must be at least HistoryBytes (10)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manager.New(tt.cfg)
			require.ErrorIs(t, err, manager.ErrInvalidConfig)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

// A create refused for too many streams says every field of the limit that refused it: the
// global limit (PerTenant false) or the tenant's quota, which the global one is checked before.
func TestTooManyStreamsLimitError(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  manager.Config
		want manager.LimitError
	}{
		{"global", manager.Config{MaxConcurrentStreams: 2, DefaultQuota: manager.Quota{MaxStreams: 2}},
			manager.LimitError{Op: "create stream", Err: manager.ErrTooManyStreams, Tenant: "acme", Limit: 2, RetryAfter: manager.LimitRetryAfter}},
		{"tenant", manager.Config{MaxConcurrentStreams: 3, DefaultQuota: manager.Quota{MaxStreams: 2}},
			manager.LimitError{Op: "create stream", Err: manager.ErrTooManyStreams, Tenant: "acme", PerTenant: true, Limit: 2, RetryAfter: manager.LimitRetryAfter}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newManager(t, tc.cfg)
			tenantStream(t, m, "acme")
			tenantStream(t, m, "acme")
			_, err := m.CreateStreamWith(ctx, manager.StreamOptions{Labels: map[string]string{manager.LabelTenant: "acme"}})
			var le *manager.LimitError
			require.ErrorAs(t, err, &le)
			require.Equal(t, tc.want, *le)
		})
	}
}

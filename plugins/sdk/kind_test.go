package sdk_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/plugins/sdk"
)

func TestKindsMarshalAsNames(t *testing.T) {
	b, err := json.Marshal([]sdk.Kind{sdk.KindTransport, sdk.KindErrorHandler, 0})
	require.NoError(t, err)
	require.Equal(t, `["transport","error_handler","unknown"]`, string(b))
}

package scalaradmin

// MaxResponseBytes bounds each rpc.Admin answer a client should read: Pause,
// Unpause and CheckPaused answer a few bytes, Stats a small JSON document.
const MaxResponseBytes = 256 << 10

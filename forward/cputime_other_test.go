//go:build !linux

package forward

import "time"

var cpuEpoch = time.Now()

// threadCPU falls back to the monotonic clock where the thread CPU clock is
// not available.
func threadCPU() time.Duration { return time.Since(cpuEpoch) }

package forward

import (
	"sync"
	"sync/atomic"
	"time"
)

// sysDayRefresh is the longest time between two readings of the system
// clock by a sysDay.
const sysDayRefresh = time.Minute

// sysDay caches the UTC day number of the system clock for an SRS whose
// Config.Now is nil. A timer refreshes it at each UTC midnight and at least
// every sysDayRefresh, so that a step of the system clock is seen within a
// minute. A timer that fires late (a loaded machine) leaves yesterday's day
// for a moment: Forward then mints a stamp valid one day less, and Reverse
// accepts stamps from "tomorrow" anyway.
type sysDay struct {
	day atomic.Int64

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func newSysDay() *sysDay {
	c := &sysDay{}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timer = time.AfterFunc(c.refresh(time.Now()), c.tick)
	return c
}

// refresh stores the day of now and returns how long until the next
// refresh: the next UTC midnight, or sysDayRefresh, whichever comes first.
func (c *sysDay) refresh(now time.Time) time.Duration {
	d := dayNumber(now)
	c.day.Store(d)
	next := time.Unix((d+1)*86400, 0).Sub(now) // wall clock, not monotonic
	return max(min(next, sysDayRefresh), time.Millisecond)
}

func (c *sysDay) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.timer.Reset(c.refresh(time.Now()))
}

// stop stops the timer for good; the cleanup of the SRS calls it.
func (c *sysDay) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	c.timer.Stop()
}

// isStopped reports whether stop was called.
func (c *sysDay) isStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

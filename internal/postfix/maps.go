package postfix

import "context"

// MapStatus is the status of a table lookup, named as in the socketmap
// protocol (socketmap_table(5)).
type MapStatus string

// The lookup statuses. tcp_table (tcp_table(5)) has three codes: OK is
// sent as 200, NotFound and Perm as 500, Temp and Timeout as 400.
const (
	MapOK       MapStatus = "OK"       // found; Text is the value
	MapNotFound MapStatus = "NOTFOUND" // no value: Postfix leaves the key alone
	MapTemp     MapStatus = "TEMP"     // temporary failure: Postfix defers the mail
	MapTimeout  MapStatus = "TIMEOUT"  // the lookup timed out: Postfix defers the mail
	MapPerm     MapStatus = "PERM"     // permanent failure of the lookup (not "not found")
)

// MapReply is the answer to one lookup.
type MapReply struct {
	Status MapStatus
	// Text is the value for MapOK and the reason otherwise (may be "").
	Text string
}

// MapHandler answers one lookup of key in the map called name: the name
// in a socketmap request, or the name a TCPTableServer was given. Its
// context ends after Limits.HandlerTimeout.
type MapHandler func(ctx context.Context, name, key string) MapReply

func (h MapHandler) lookup(hctx context.Context, lim Limits, name, key string) MapReply {
	if h == nil {
		return MapReply{Status: MapNotFound}
	}
	ctx, cancel := context.WithTimeout(hctx, lim.HandlerTimeout)
	defer cancel()
	r := h(ctx, name, key)
	switch r.Status {
	case MapOK, MapNotFound, MapTemp, MapTimeout, MapPerm:
	default:
		r = MapReply{Status: MapTemp, Text: "handler returned an unknown status"}
	}
	return r
}

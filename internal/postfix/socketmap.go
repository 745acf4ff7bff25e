package postfix

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
)

// MaxSocketmapReply is the longest reply payload the Postfix socketmap
// client accepts (socketmap_table(5): 100000 characters).
const MaxSocketmapReply = 100000

// ReadNetstring reads one netstring ("5:hello,", djb's netstrings) from br
// and returns its payload, which may be at most max octets (0 means
// DefaultMapRequestSize).
//
// It returns io.EOF when br ends before the first octet. Other errors:
// io.ErrUnexpectedEOF inside the netstring; a *ProtocolError wrapping
// ErrMalformed (a length that is not decimal digits, has a leading zero or
// lacks ':', a missing ',') or ErrTooLarge; or the reader's error. After a
// *ProtocolError the stream is out of step and should be closed.
func ReadNetstring(br *bufio.Reader, max int) ([]byte, error) {
	if max <= 0 {
		max = DefaultMapRequestSize
	}
	const proto = "socketmap"
	n, digits := 0, 0
	for {
		c, err := br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if digits == 0 {
					return nil, io.EOF
				}
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if c == ':' {
			if digits == 0 {
				return nil, malformed(proto, digits, "netstring without a length")
			}
			break
		}
		if c < '0' || c > '9' {
			return nil, malformed(proto, digits, "netstring length is not a decimal number")
		}
		if digits == 1 && n == 0 {
			return nil, malformed(proto, digits, "netstring length with a leading zero")
		}
		digits++
		n = n*10 + int(c-'0')
		if n > max {
			return nil, tooLarge(proto, digits, "netstring longer than "+strconv.Itoa(max)+" octets")
		}
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(br, buf); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if buf[n] != ',' {
		return nil, malformed(proto, digits+1+n, "netstring not ended by ','")
	}
	return buf[:n], nil
}

// AppendNetstring appends s as a netstring to b.
func AppendNetstring(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	b = append(b, s...)
	return append(b, ',')
}

// ParseSocketmapRequest splits a socketmap request payload, "name key",
// at its first space (socketmap_table(5)). The name must be non-empty and
// hold no control characters; the key is the rest, possibly empty. The
// error wraps ErrMalformed.
func ParseSocketmapRequest(p []byte) (name, key string, err error) {
	sp := -1
	for i, c := range p {
		if c == ' ' {
			sp = i
			break
		}
		if c < ' ' || c == 0x7f {
			return "", "", malformed("socketmap", i, "control character in map name")
		}
	}
	if sp < 0 {
		return "", "", malformed("socketmap", len(p), "request without a space after the map name")
	}
	if sp == 0 {
		return "", "", malformed("socketmap", 0, "empty map name")
	}
	return string(p[:sp]), string(p[sp+1:]), nil
}

// AppendSocketmapReply appends r as a socketmap reply netstring: "OK
// value", "NOTFOUND ", "TEMP reason" and so on. Line breaks and NULs in the
// text become spaces; a value longer than MaxSocketmapReply turns into
// "PERM reply too long".
func AppendSocketmapReply(b []byte, r MapReply) []byte {
	text := r.Text
	if r.Status == MapNotFound {
		text = "" // socketmap_table(5): "NOTFOUND <space>"
	}
	if len(r.Status)+1+len(text) > MaxSocketmapReply {
		if r.Status == MapOK {
			r, text = MapReply{Status: MapPerm}, "reply too long"
		} else {
			text = text[:MaxSocketmapReply-len(r.Status)-1]
		}
	}
	payload := string(r.Status) + " " + cleanText(text)
	return AppendNetstring(b, payload)
}

// cleanText replaces CR, LF and NUL, which no Postfix table value may hold.
func cleanText(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// SocketmapServer serves Postfix socketmap tables (socketmap_table(5)):
// each request is a netstring "name key", each reply a netstring "OK
// value", "NOTFOUND ", "TEMP reason", "TIMEOUT reason" or "PERM reason".
// A request that is a well-formed netstring but not "name key" gets "PERM
// malformed request"; a broken netstring closes the connection, since the
// stream cannot be resynchronised. The zero value answers NOTFOUND.
type SocketmapServer struct {
	// Handler answers each lookup. nil answers NOTFOUND.
	Handler MapHandler
	// Limits bounds connections and requests; the zero value gives the
	// defaults.
	Limits Limits
	// Logger receives a Warn record for each malformed request and a Debug
	// record for each lookup. nil is silent.
	Logger *slog.Logger
}

// Serve serves connections from ln until ctx ends, then shuts down
// gracefully and returns nil, like PolicyServer.Serve.
func (s *SocketmapServer) Serve(ctx context.Context, ln net.Listener) error {
	return serve(ctx, ln, s.Limits.withDefaults(DefaultMapRequestSize), s.Logger, "socketmap", func(hctx context.Context, c *conn) error {
		p, err := ReadNetstring(c.br, c.lim.MaxRequestSize)
		if err != nil {
			return readFailed(err)
		}
		var r MapReply
		name, key, perr := ParseSocketmapRequest(p)
		if perr != nil {
			c.logger.Warn("malformed socketmap request", "err", perr)
			r = MapReply{Status: MapPerm, Text: "malformed request"}
		} else {
			r = s.Handler.lookup(hctx, c.lim, name, key)
			c.logger.Debug("socketmap lookup", "map", name, "key", key, "status", string(r.Status))
		}
		c.out = AppendSocketmapReply(c.out[:0], r)
		return c.reply(c.out)
	})
}

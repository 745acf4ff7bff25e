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

// MaxTCPTableReply is the longest reply line the Postfix tcp_table client
// accepts, newline included (tcp_table(5): 4096 characters).
const MaxTCPTableReply = 4096

// ReadTCPTableLine reads one request line, ended by LF (a CR before it is
// removed), of at most max octets with its line end (0 means
// DefaultMapRequestSize). It returns io.EOF when br ends before the first
// octet, io.ErrUnexpectedEOF when it ends inside a line, and a
// *ProtocolError wrapping ErrTooLarge for a longer line, after which the
// stream is out of step.
func ReadTCPTableLine(br *bufio.Reader, max int) (string, error) {
	if max <= 0 {
		max = DefaultMapRequestSize
	}
	var long []byte
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		n += len(line)
		if n > max {
			return "", tooLarge("tcp_table", n, "request line longer than "+strconv.Itoa(max)+" octets")
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if n == 0 {
					return "", io.EOF
				}
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		if long != nil {
			line = append(long, line...)
		}
		line = line[:len(line)-1]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		return string(line), nil
	}
}

// ParseTCPTableRequest parses a request line without its line end, "get
// SPACE key" (tcp_table(5)), and returns the decoded key. The command is
// matched case-sensitively, as Postfix sends it. Errors wrap ErrMalformed:
// another command, a missing key, or a bad %XX escape.
func ParseTCPTableRequest(line string) (string, error) {
	cmd, enc, ok := strings.Cut(line, " ")
	if !ok || cmd != "get" {
		return "", malformed("tcp_table", 0, "not a get request")
	}
	if enc == "" {
		return "", malformed("tcp_table", len(line), "get without a key")
	}
	key, err := DecodeTCPTable(enc)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			pe.Offset += len("get ")
		}
		return "", err
	}
	return key, nil
}

// DecodeTCPTable reverses the %XX encoding of tcp_table(5); the hex digits
// may be in either case. White space or a control character that is not
// encoded is an error (wrapping ErrMalformed), as is '%' not followed by
// two hex digits.
func DecodeTCPTable(s string) (string, error) {
	if !strings.ContainsAny(s, "% \t\r\n\x00\x7f") && !hasControl(s) {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", malformed("tcp_table", i, "truncated %XX escape")
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", malformed("tcp_table", i, "invalid %XX escape")
			}
			b = append(b, hi<<4|lo)
			i += 2
		case c <= ' ' || c == 0x7f:
			return "", malformed("tcp_table", i, "unencoded white space or control character")
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// AppendTCPTableEncoded appends s to b with '%', white space, control
// characters and every octet outside printable US-ASCII written as %XX
// (tcp_table(5) "ENCODING").
func AppendTCPTableEncoded(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// AppendTCPTableReply appends r as a tcp_table reply line: "200 value",
// "500 reason" (not found, or a permanent failure) or "400 reason"
// (temporary failure), the text %XX-encoded, ended by LF. A reply longer
// than MaxTCPTableReply turns into "500 reply too long".
func AppendTCPTableReply(b []byte, r MapReply) []byte {
	start := len(b)
	switch r.Status {
	case MapOK:
		b = append(b, "200 "...)
	case MapTemp, MapTimeout:
		b = append(b, "400 "...)
	default:
		b = append(b, "500 "...)
	}
	b = AppendTCPTableEncoded(b, r.Text)
	b = append(b, '\n')
	if len(b)-start > MaxTCPTableReply {
		b = append(b[:start], "500 reply%20too%20long\n"...)
	}
	return b
}

// TCPTableServer serves one Postfix tcp_table (tcp_table(5)): each request
// is a line "get key", the key %XX-encoded, and each reply a line "200
// value", "500 reason" or "400 reason". A request that is not "get key"
// gets "500 malformed request"; a line longer than the limit gets the
// same, and the connection is closed. The zero value answers 500 to every
// key.
type TCPTableServer struct {
	// Map is the name passed to Handler, such as "forward" or "reverse".
	Map string
	// Handler answers each lookup. nil answers not found.
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
func (s *TCPTableServer) Serve(ctx context.Context, ln net.Listener) error {
	return serve(ctx, ln, s.Limits.withDefaults(DefaultMapRequestSize), s.Logger, "tcp_table", func(hctx context.Context, c *conn) error {
		line, err := ReadTCPTableLine(c.br, c.lim.MaxRequestSize)
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				_ = c.reply(AppendTCPTableReply(nil, MapReply{Status: MapPerm, Text: "request too long"}))
				return err
			}
			return readFailed(err)
		}
		var r MapReply
		key, perr := ParseTCPTableRequest(line)
		if perr != nil {
			c.logger.Warn("malformed tcp_table request", "err", perr)
			r = MapReply{Status: MapPerm, Text: "malformed request"}
		} else {
			r = s.Handler.lookup(hctx, c.lim, s.Map, key)
			c.logger.Debug("tcp_table lookup", "map", s.Map, "key", key, "status", string(r.Status))
		}
		c.out = AppendTCPTableReply(c.out[:0], r)
		return c.reply(c.out)
	})
}

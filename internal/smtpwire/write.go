package smtpwire

import (
	"strconv"

	"github.com/smtpsec/smtpsec"
)

// AppendReply appends r in wire form to dst, exactly as r.String() writes it
// (RFC 5321 §4.2.1; control characters replaced, CR and LF splitting lines,
// the enhanced code on every line), without intermediate allocations, so
// that a server can send a multi-line reply with one write.
func AppendReply(dst []byte, r smtpsec.Reply) []byte {
	code := r.Code
	if code < 200 || code > 599 {
		code = 451
	}
	var codeBuf [3]byte
	codeBuf[0], codeBuf[1], codeBuf[2] = byte('0'+code/100), byte('0'+code/10%10), byte('0'+code%10)
	var prefix []byte
	var prefixBuf [12]byte
	e := r.Enhanced
	if cls := r.Code / 100; !e.IsZero() && e.Subject >= 0 && e.Subject <= 999 && e.Detail >= 0 && e.Detail <= 999 && (cls == 2 || cls == 4 || cls == 5) {
		prefix = append(prefixBuf[:0], byte('0'+cls), '.')
		prefix = strconv.AppendInt(prefix, int64(e.Subject), 10)
		prefix = append(prefix, '.')
		prefix = strconv.AppendInt(prefix, int64(e.Detail), 10)
	}
	text := r.Text
	for {
		// The next line ends at CRLF, CR or LF.
		end, next := len(text), len(text)
		for i := 0; i < len(text); i++ {
			if c := text[i]; c == '\r' || c == '\n' {
				end, next = i, i+1
				if c == '\r' && i+1 < len(text) && text[i+1] == '\n' {
					next = i + 2
				}
				break
			}
		}
		line, last := text[:end], end == len(text)
		dst = append(dst, codeBuf[:]...)
		switch {
		case !last:
			dst = append(dst, '-')
		case line != "" || prefix != nil:
			dst = append(dst, ' ')
		}
		if prefix != nil {
			dst = append(dst, prefix...)
			if line != "" {
				dst = append(dst, ' ')
			}
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			if (c < ' ' && c != '\t') || c == 0x7f {
				c = ' '
			}
			dst = append(dst, c)
		}
		dst = append(dst, '\r', '\n')
		if last {
			return dst
		}
		text = text[next:]
	}
}

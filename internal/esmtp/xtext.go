package esmtp

import "strings"

// RFC 3461 §4:
//
//	xtext   = *( xchar / hexchar )
//	xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
//	          except for "+" and "="
//	hexchar = ASCII "+" immediately followed by two upper case
//	          hexadecimal digits

const upperHex = "0123456789ABCDEF"

// EncodeXText encodes s as xtext (RFC 3461 §4): octets outside "!" to "~",
// "+" and "=" become "+XX" with upper-case hex digits.
func EncodeXText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 33 && c <= 126 && c != '+' && c != '=' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('+')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0xf])
	}
	return b.String()
}

// DecodeXText decodes xtext (RFC 3461 §4). It is strict: a "+" must be
// followed by two upper-case hex digits, and only xchar octets may appear
// unencoded. Errors are *SyntaxError wrapping ErrXText.
func DecodeXText(s string) (string, error) {
	if !strings.Contains(s, "+") {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 33 || c > 126 || c == '=' {
				return "", &SyntaxError{Offset: i, Err: ErrXText}
			}
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) {
				return "", &SyntaxError{Offset: i, Err: ErrXText}
			}
			hi, lo := unhex(s[i+1]), unhex(s[i+2])
			if hi < 0 || lo < 0 {
				return "", &SyntaxError{Offset: i, Err: ErrXText}
			}
			b = append(b, byte(hi<<4|lo))
			i += 2
		case c >= 33 && c <= 126 && c != '=':
			b = append(b, c)
		default:
			return "", &SyntaxError{Offset: i, Err: ErrXText}
		}
	}
	return string(b), nil
}

// unhex returns the value of an upper-case hex digit, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

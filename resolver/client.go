package resolver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Defaults of [Client] fields.
const (
	// DefaultTimeout is the time one attempt waits for one server.
	DefaultTimeout = 2 * time.Second
	// DefaultAttempts is the number of rounds over the servers.
	DefaultAttempts = 2
	// DefaultUDPSize is the EDNS0 UDP payload size advertised, the value
	// recommended by DNS Flag Day 2020 to avoid IP fragmentation.
	DefaultUDPSize = 1232
	// resolvConf is where the system's name servers are read from.
	resolvConf = "/etc/resolv.conf"
)

// Client is a DNS stub resolver built on github.com/miekg/dns. It asks
// recursive resolvers, implements [Resolver] and [Querier], and reports the
// response code and the DNSSEC AD bit that net.Resolver hides.
//
// Every query carries EDNS0 (RFC 6891) with the DO bit (RFC 3225) and the AD
// bit (RFC 6840 §5.7), so a validating resolver reports whether the answer
// was validated. A UDP answer with the TC bit is asked again over TCP (RFC
// 7766 §5). Each server is given at most Timeout per attempt, Attempts rounds
// over the servers, all within the context's deadline. Names are raw (see
// the package documentation), made absolute, and U-labels converted to
// A-labels; no search list is applied, since the names of mail protocols
// are fully qualified.
//
// The zero value is ready to use: it asks the name servers of
// /etc/resolv.conf, or 127.0.0.1:53 when there are none, and trusts the AD
// bit of loopback servers only. A Client is safe for concurrent use; its
// fields must not be changed after its first use, and it must not be copied
// after first use.
//
// Each query to a remote server uses a fresh UDP socket, so a fresh random
// source port (RFC 5452 §3). UDP sockets to loopback servers, where no
// off-path attacker can reach, are kept for reuse (at most 16 per server;
// see [Client.CloseIdleConnections]).
type Client struct {
	// Servers are the recursive resolvers to ask, in order, as "ip:port"
	// or "ip" (port 53); IPv6 addresses in brackets when a port is given.
	// Host names are not accepted. If nil, the name servers of
	// /etc/resolv.conf are used, or 127.0.0.1:53 when it lists none.
	Servers []string

	// Timeout bounds one attempt with one server. If 0, DefaultTimeout
	// is used. The context's deadline always applies too.
	Timeout time.Duration

	// Attempts is the number of rounds over Servers. If 0,
	// DefaultAttempts is used.
	Attempts int

	// UDPSize is the EDNS0 UDP payload size advertised. If 0,
	// DefaultUDPSize is used. Values below 512 are raised to 512.
	UDPSize uint16

	// TrustAD reports whether server is trusted to validate DNSSEC, so
	// that its AD bit makes an answer Authentic (RFC 4035 §4.9.3: a stub
	// resolver can only rely on the AD bit of a recursive server it
	// trusts, over a secure channel, typically one on the same host). If
	// nil, loopback servers are trusted and no other.
	TrustAD func(server netip.AddrPort) bool

	// Cache stores responses for their TTL. If nil, nothing is cached.
	Cache Cache

	// Now returns the current time, for the cache. If nil, time.Now is
	// used.
	Now func() time.Time

	once    sync.Once
	servers []netip.AddrPort
	bufs    sync.Pool // *[]byte of maxMsgSize, for responses

	idleMu sync.Mutex
	idle   map[netip.AddrPort][]*net.UDPConn // kept sockets, loopback servers only
}

// maxMsgSize is the largest DNS message (RFC 1035 §4.2.2 TCP length prefix).
const maxMsgSize = 65535

func (c *Client) init() {
	list := c.Servers
	if list == nil {
		if cfg, err := dns.ClientConfigFromFile(resolvConf); err == nil {
			for _, s := range cfg.Servers {
				list = append(list, net.JoinHostPort(s, cfg.Port))
			}
		}
		if len(list) == 0 {
			list = []string{"127.0.0.1:53"}
		}
	}
	for _, s := range list {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			c.servers = append(c.servers, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		} else if a, err := netip.ParseAddr(s); err == nil {
			c.servers = append(c.servers, netip.AddrPortFrom(a.Unmap(), 53))
		}
	}
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Client) attempts() int {
	if c.Attempts > 0 {
		return c.Attempts
	}
	return DefaultAttempts
}

func (c *Client) udpSize() uint16 {
	switch {
	case c.UDPSize == 0:
		return DefaultUDPSize
	case c.UDPSize < dns.MinMsgSize:
		return dns.MinMsgSize
	}
	return c.UDPSize
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) trusted(server netip.AddrPort) bool {
	if c.TrustAD != nil {
		return c.TrustAD(server)
	}
	return server.Addr().IsLoopback()
}

// Query asks for the records of name with type qtype and follows CNAME
// chains (RFC 1034 §5.3.3), up to [MaxCNAMEChain] records.
//
// It returns an *Answer for every response that arrived, whatever its RCODE:
// NXDOMAIN, NODATA (NOERROR without Records), SERVFAIL (after every server
// was tried). Its error, a *net.DNSError, means no usable response arrived:
// IsTimeout when no server answered in time, IsTemporary for network
// errors, a CNAME loop or an over-long chain; IsNotFound when name is not a
// valid domain name. UnwrapErr keeps the cause (a net error, a context
// error, [ErrCNAMELoop], a *dnsname.Error or *NameError, ...). name is raw
// (see the package documentation): "a b.example" asks for a name whose
// first label holds a space.
func (c *Client) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	qname, err := canonicalName(name)
	if err != nil {
		return nil, notFoundError(name, "", err)
	}
	c.once.Do(c.init)
	if len(c.servers) == 0 {
		return nil, &net.DNSError{Err: errTextNoServers, Name: name, IsTemporary: true, UnwrapErr: ErrNoServers}
	}
	a := &Answer{Name: qname, Authentic: true}
	cur := qname
	for {
		resp, server, err := c.ask(ctx, cur, qtype)
		if err != nil {
			err.Name = name
			return nil, err
		}
		a.Server = server.String()
		a.Rcode = resp.Rcode
		a.Authentic = a.Authentic && resp.AuthenticatedData && c.trusted(server)
		// Walk the chain the resolver put in the answer section
		// (RFC 1034 §4.3.1: the answer, possibly prefaced by CNAMEs).
		asked := cur
		for {
			for _, rr := range resp.Answer {
				h := rr.Header()
				if h.Rrtype == qtype && h.Class == dns.ClassINET && sameName(h.Name, cur) {
					a.Records = append(a.Records, rr)
				}
			}
			if len(a.Records) > 0 || qtype == dns.TypeCNAME {
				break
			}
			cn := findCNAME(resp.Answer, cur)
			if cn == nil {
				break
			}
			target, err := presentationKey(cn.Target)
			if err != nil {
				return nil, &net.DNSError{Err: errTextMalformed, Name: name, Server: a.Server, UnwrapErr: ErrMalformedResponse}
			}
			if target == qname || containsOwner(a.CNAMEs, target) {
				return nil, chainError(name, a.Server, ErrCNAMELoop)
			}
			if len(a.CNAMEs) >= MaxCNAMEChain {
				return nil, chainError(name, a.Server, ErrCNAMEChain)
			}
			a.CNAMEs = append(a.CNAMEs, cn)
			cur = target
		}
		// A resolver that stopped at a CNAME (some do, for targets in
		// other zones) is asked again for the target, unless the response
		// carries an SOA, which makes it a NODATA answer for the target
		// (RFC 2308 §2.2). Each round follows at least one new CNAME, so
		// MaxCNAMEChain bounds the rounds.
		if len(a.Records) > 0 || resp.Rcode != dns.RcodeSuccess || cur == asked || hasSOA(resp.Ns) {
			if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
				a.Authentic = false
			}
			return a, nil
		}
	}
}

// ctxErr is ctx.Err(), or context.DeadlineExceeded once the deadline has
// passed even if ctx's timer has not fired yet: a read that timed out at the
// deadline must not be taken for a server timeout and retried.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

func hasSOA(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeSOA {
			return true
		}
	}
	return false
}

func findCNAME(rrs []dns.RR, owner string) *dns.CNAME {
	for _, rr := range rrs {
		if cn, ok := rr.(*dns.CNAME); ok && cn.Hdr.Class == dns.ClassINET && sameName(cn.Hdr.Name, owner) {
			return cn
		}
	}
	return nil
}

func containsOwner(cnames []*dns.CNAME, name string) bool {
	for _, c := range cnames {
		if sameName(c.Hdr.Name, name) {
			return true
		}
	}
	return false
}

// ask gets one response for (qname, qtype) from the cache or the servers:
// Attempts rounds over the servers, each try bounded by Timeout and ctx; TCP
// after a truncated UDP answer; a SERVFAIL or REFUSED makes it try the next
// server, and is returned if no server does better.
func (c *Client) ask(ctx context.Context, qname string, qtype uint16) (*dns.Msg, netip.AddrPort, *net.DNSError) {
	key := ""
	if c.Cache != nil {
		key = cacheKey(qname, qtype)
		if m, server, ok := c.cacheGet(ctx, key); ok {
			return m, server, nil
		}
	}
	var (
		lastErr    error
		lastServer netip.AddrPort
		fallback   *dns.Msg
		fbServer   netip.AddrPort
	)
	for range c.attempts() {
		for _, server := range c.servers {
			if err := ctxErr(ctx); err != nil {
				return nil, server, contextError(qname, server.String(), err)
			}
			resp, err := c.exchange(ctx, server, qname, qtype, false)
			if err == nil && resp.Truncated {
				resp, err = c.exchange(ctx, server, qname, qtype, true)
			}
			if err != nil {
				lastErr, lastServer = err, server
				if cerr := ctxErr(ctx); cerr != nil {
					return nil, server, contextError(qname, server.String(), cerr)
				}
				continue
			}
			if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
				fallback, fbServer = resp, server
				continue
			}
			if key != "" {
				c.cachePut(ctx, key, resp, server)
			}
			return resp, server, nil
		}
	}
	if fallback != nil {
		return fallback, fbServer, nil
	}
	var ne net.Error
	if errors.As(lastErr, &ne) && ne.Timeout() {
		return nil, lastServer, timeoutError(qname, lastServer.String(), lastErr)
	}
	if errors.Is(lastErr, ErrMalformedResponse) {
		return nil, lastServer, &net.DNSError{Err: errTextMalformed, Name: qname, Server: lastServer.String(), UnwrapErr: lastErr}
	}
	return nil, lastServer, &net.DNSError{Err: lastErr.Error(), Name: qname, Server: lastServer.String(), IsTemporary: true, UnwrapErr: lastErr}
}

// exchange sends one query to server over UDP or TCP and waits for the
// matching response.
func (c *Client) exchange(ctx context.Context, server netip.AddrPort, qname string, qtype uint16, tcp bool) (*dns.Msg, error) {
	id := uint16(rand.Uint32()) // RFC 5452 §3: an unpredictable ID.
	query, err := c.packQuery(id, qname, qtype, tcp)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.timeout())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if tcp {
		d := net.Dialer{Deadline: deadline}
		conn, err := d.DialContext(ctx, "tcp", server.String())
		if err != nil {
			return nil, err
		}
		m, _, err := c.roundTrip(ctx, conn, deadline, query, id, qname, qtype, true)
		conn.Close()
		return m, err
	}
	conn, reused := c.idleUDP(server)
	if conn == nil {
		// A UDP "dial" only binds a random local port (RFC 5452 §3) and
		// sets the peer: it does not block, so it needs no context.
		if conn, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server)); err != nil {
			return nil, err
		}
	}
	m, clean, err := c.roundTrip(ctx, conn, deadline, query, id, qname, qtype, false)
	if clean && err == nil {
		c.putIdleUDP(server, conn)
		return m, nil
	}
	conn.Close()
	var ne net.Error
	if reused && err != nil && ctxErr(ctx) == nil && !(errors.As(err, &ne) && ne.Timeout()) {
		// A kept socket may hold an error from an earlier exchange
		// (an ICMP port unreachable): try once more on a fresh one.
		if conn, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server)); err != nil {
			return nil, err
		}
		m, clean, err = c.roundTrip(ctx, conn, deadline, query, id, qname, qtype, false)
		if clean && err == nil {
			c.putIdleUDP(server, conn)
			return m, nil
		}
		conn.Close()
	}
	return m, err
}

// roundTrip writes query on conn and reads until the matching response
// arrives, the deadline passes or ctx is done. clean reports that conn is
// left in a state fit for reuse (no cancellation raced with the exchange).
func (c *Client) roundTrip(ctx context.Context, conn net.Conn, deadline time.Time, query []byte, id uint16, qname string, qtype uint16, tcp bool) (m *dns.Msg, clean bool, err error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, false, err
	}
	// Cancelling ctx unblocks the read at once.
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				clean = false
			}
		}()
	}
	if _, err := conn.Write(query); err != nil {
		return nil, false, err
	}
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, maxMsgSize)
		bp = &b
	}
	defer c.bufs.Put(bp)
	buf := *bp
	for {
		var n int
		if tcp {
			if _, err := io.ReadFull(conn, buf[:2]); err != nil {
				return nil, false, err
			}
			n = int(binary.BigEndian.Uint16(buf[:2]))
			if _, err := io.ReadFull(conn, buf[:n]); err != nil {
				return nil, false, err
			}
		} else {
			n, err = conn.Read(buf)
			if err != nil {
				return nil, false, err
			}
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			if tcp {
				return nil, false, errors.Join(ErrMalformedResponse, err)
			}
			continue // RFC 5452 §3: ignore what does not match, keep waiting
		}
		if !m.Response || m.Id != id || !questionMatches(m, qname, qtype) {
			if tcp {
				return nil, false, ErrMalformedResponse
			}
			continue
		}
		return m, true, nil
	}
}

// maxIdleUDP bounds the sockets kept per loopback server.
const maxIdleUDP = 16

// idleUDP returns a kept UDP socket to server, if any. Only sockets to
// loopback servers are kept: on loopback there is no network path for an
// off-path attacker, so a reused source port costs nothing, while each
// query to a remote server gets a fresh random port (RFC 5452 §3).
func (c *Client) idleUDP(server netip.AddrPort) (*net.UDPConn, bool) {
	if !server.Addr().IsLoopback() {
		return nil, false
	}
	c.idleMu.Lock()
	defer c.idleMu.Unlock()
	conns := c.idle[server]
	if len(conns) == 0 {
		return nil, false
	}
	conn := conns[len(conns)-1]
	conns[len(conns)-1] = nil
	c.idle[server] = conns[:len(conns)-1]
	return conn, true
}

func (c *Client) putIdleUDP(server netip.AddrPort, conn *net.UDPConn) {
	if !server.Addr().IsLoopback() {
		conn.Close()
		return
	}
	c.idleMu.Lock()
	defer c.idleMu.Unlock()
	if len(c.idle[server]) >= maxIdleUDP {
		conn.Close()
		return
	}
	if c.idle == nil {
		c.idle = make(map[netip.AddrPort][]*net.UDPConn)
	}
	c.idle[server] = append(c.idle[server], conn)
}

// CloseIdleConnections closes the UDP sockets the Client keeps for reuse
// with loopback servers. The Client stays usable.
func (c *Client) CloseIdleConnections() {
	c.idleMu.Lock()
	defer c.idleMu.Unlock()
	for server, conns := range c.idle {
		for _, conn := range conns {
			conn.Close()
		}
		delete(c.idle, server)
	}
}

func questionMatches(m *dns.Msg, qname string, qtype uint16) bool {
	if len(m.Question) != 1 {
		// RFC 1035 allows a response without the question only for
		// errors such as FORMERR; refuse it for anything else.
		return len(m.Question) == 0 && m.Rcode == dns.RcodeFormatError
	}
	q := m.Question[0]
	// A server may escape the name differently ("a\032b" asked, "a\ b"
	// answered): compare the names, not their text.
	return q.Qtype == qtype && q.Qclass == dns.ClassINET && sameName(q.Name, qname)
}

// packQuery builds a query for (qname, qtype) with EDNS0 and the DO bit, and
// with a TCP length prefix when tcp is set.
func (c *Client) packQuery(id uint16, qname string, qtype uint16, tcp bool) ([]byte, error) {
	off := 0
	if tcp {
		off = 2
	}
	b := make([]byte, off+12+len(qname)+2+4+11)
	h := b[off:]
	binary.BigEndian.PutUint16(h[0:], id)
	// Flags: RD (RFC 1035 §4.1.1) and AD (RFC 6840 §5.7).
	binary.BigEndian.PutUint16(h[2:], 1<<8|1<<5)
	binary.BigEndian.PutUint16(h[4:], 1)  // QDCOUNT
	binary.BigEndian.PutUint16(h[10:], 1) // ARCOUNT: the OPT record
	n, err := dns.PackDomainName(qname, h, 12, nil, false)
	if err != nil {
		return nil, errors.Join(ErrMalformedResponse, err)
	}
	binary.BigEndian.PutUint16(h[n:], qtype)
	binary.BigEndian.PutUint16(h[n+2:], dns.ClassINET)
	n += 4
	// OPT pseudo-record, RFC 6891 §6.1.2: root owner, type OPT, class =
	// UDP payload size, TTL = extended RCODE, version 0, DO bit (RFC 3225).
	h[n] = 0
	binary.BigEndian.PutUint16(h[n+1:], dns.TypeOPT)
	binary.BigEndian.PutUint16(h[n+3:], c.udpSize())
	binary.BigEndian.PutUint32(h[n+5:], 1<<15)
	binary.BigEndian.PutUint16(h[n+9:], 0)
	n += 11
	b = b[:off+n]
	if tcp {
		binary.BigEndian.PutUint16(b, uint16(n))
	}
	return b, nil
}

// LookupTXT implements [Resolver]: the strings of one record are joined
// without a separator, records are kept apart.
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return lookupTXT(ctx, c, name)
}

// LookupMX implements [Resolver]: sorted by preference, targets absolute.
func (c *Client) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return lookupMX(ctx, c, name)
}

// LookupNetIP implements [Resolver]. network is "ip4", "ip6" or "ip" (both,
// IPv4 first).
func (c *Client) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return lookupNetIP(ctx, c, network, host)
}

// LookupAddr implements [Resolver]: the PTR names of addr, absolute.
func (c *Client) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return lookupAddr(ctx, c, addr)
}

func cacheKey(qname string, qtype uint16) string {
	return qname + "/" + strconv.Itoa(int(qtype))
}

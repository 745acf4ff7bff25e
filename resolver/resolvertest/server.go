package resolvertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/smtpsec/smtpsec/resolver"
)

// Server is a DNS server on 127.0.0.1 that answers from a [resolver.Zone]
// over UDP and TCP, on the same port. Create one with [NewServer]; it stops
// when the test ends.
//
// A Server's methods are safe for concurrent use.
type Server struct {
	zone *resolver.Zone
	addr string // host:port, the same for UDP and TCP

	udp, tcp *dns.Server

	latency    atomic.Int64 // time.Duration added before each answer
	maxUDPSize atomic.Int64 // 0: the size the query allows

	mu      sync.Mutex
	log     []Query
	dropped map[string]bool

	count     atomic.Int64
	wg        sync.WaitGroup // handlers waiting out a latency
	serving   sync.WaitGroup // the UDP and TCP serve loops
	done      chan struct{}
	closeOnce sync.Once
}

// Query is one query the server received.
type Query struct {
	Name    string // as sent, not normalised
	Type    uint16 // dns.TypeA, ...
	Network string // "udp" or "tcp"
	DO      bool   // the EDNS0 DO bit was set
	Dropped bool   // no response was sent
	// Remote is the client's address and port.
	Remote netip.AddrPort
}

// NewServer starts a server for z on 127.0.0.1 with a port chosen by the
// system, UDP and TCP, and registers its shutdown with t.Cleanup. It fails
// the test if the server cannot start. Changes made to z later are seen by
// the server.
func NewServer(t testing.TB, z *resolver.Zone) *Server {
	t.Helper()
	s, err := Start(z)
	if err != nil {
		t.Fatalf("resolvertest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a server for z like [NewServer], for code without a
// testing.TB (examples, tools). The caller must call [Server.Close].
func Start(z *resolver.Zone) (*Server, error) {
	if z == nil {
		z = new(resolver.Zone)
	}
	s := &Server{zone: z, done: make(chan struct{})}
	// Bind UDP first, then TCP on the same port; retry if another process
	// holds that TCP port.
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 20 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listen udp: %w", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("listen tcp: %w", err)
	}
	s.addr = pc.LocalAddr().String()

	h := dns.HandlerFunc(s.serve)
	udpUp, tcpUp := make(chan struct{}), make(chan struct{})
	s.udp = &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(udpUp) }}
	s.tcp = &dns.Server{Listener: ln, Handler: h, NotifyStartedFunc: func() { close(tcpUp) },
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	s.serving.Add(2)
	go func() { defer s.serving.Done(); errc <- s.udp.ActivateAndServe() }()
	go func() { defer s.serving.Done(); errc <- s.tcp.ActivateAndServe() }()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for _, up := range []chan struct{}{udpUp, tcpUp} {
		select {
		case <-up:
		case err := <-errc:
			s.Close()
			return nil, fmt.Errorf("serve: %w", err)
		case <-timer.C:
			s.Close()
			return nil, errors.New("server did not start")
		}
	}
	return s, nil
}

// Close stops the server and waits for its goroutines to end. It may be
// called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done) // wake handlers sleeping out a latency
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.udp.ShutdownContext(ctx); err != nil {
			s.udp.PacketConn.Close()
		}
		if err := s.tcp.ShutdownContext(ctx); err != nil {
			s.tcp.Listener.Close()
		}
		s.serving.Wait()
		s.wg.Wait()
	})
}

// Addr returns the server's address, "127.0.0.1:port", for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// AddrPort returns the server's address as a netip.AddrPort.
func (s *Server) AddrPort() netip.AddrPort { return netip.MustParseAddrPort(s.addr) }

// Zone returns the zone the server answers from.
func (s *Server) Zone() *resolver.Zone { return s.zone }

// Client returns a new resolver.Client that asks only this server, trusts
// its AD bit, and uses a per-attempt timeout of one second.
func (s *Server) Client() *resolver.Client {
	ap := s.AddrPort()
	return &resolver.Client{
		Servers: []string{s.addr},
		TrustAD: func(server netip.AddrPort) bool { return server == ap },
		Timeout: time.Second,
	}
}

// SetLatency delays every answer by d (0: none), to test timeouts and
// concurrency. Closing the server cuts the delay short.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetMaxUDPSize truncates UDP responses longer than n octets: they are sent
// with the TC bit and no records (RFC 1035 §4.2.1, RFC 2181 §9), so the
// client must retry over TCP. 0, the default, allows what the query
// advertises: its EDNS0 UDP size (RFC 6891 §6.2.5), else 512 octets.
func (s *Server) SetMaxUDPSize(n int) { s.maxUDPSize.Store(int64(n)) }

// Drop makes the server ignore queries for name (any type) without
// answering, so that the client times out; drop false answers them again.
// The zone's FailTimeout has the same effect. name is a raw name, as given
// to resolver.Client.Query.
func (s *Server) Drop(name string, drop bool) {
	n, err := resolver.CanonicalName(name)
	if err != nil {
		return // no query can ask for it
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped == nil {
		s.dropped = make(map[string]bool)
	}
	if drop {
		s.dropped[n] = true
	} else {
		delete(s.dropped, n)
	}
}

// Count returns the number of queries received so far.
func (s *Server) Count() int { return int(s.count.Load()) }

// Queries returns a copy of the log of queries received, oldest first.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.log...)
}

// ResetLog empties the query log and sets the count to zero.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
	s.count.Store(0)
}

// maxLog bounds the query log, so a long benchmark cannot use unbounded
// memory; Count keeps counting.
const maxLog = 10000

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	s.count.Add(1)
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	q := Query{Network: network}
	if ap, err := netip.ParseAddrPort(w.RemoteAddr().String()); err == nil {
		q.Remote = ap
	}
	if len(req.Question) > 0 {
		q.Name, q.Type = req.Question[0].Name, req.Question[0].Qtype
	}
	opt := req.IsEdns0()
	q.DO = opt != nil && opt.Do()

	resp := s.zone.Respond(req)
	s.mu.Lock()
	if len(s.dropped) > 0 && s.dropped[questionKey(q.Name)] {
		resp = nil
	}
	q.Dropped = resp == nil
	if len(s.log) < maxLog {
		s.log = append(s.log, q)
	}
	s.mu.Unlock()
	if resp == nil {
		return
	}
	if d := time.Duration(s.latency.Load()); d > 0 {
		s.wg.Add(1)
		defer s.wg.Done()
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return
		}
	}
	if network == "udp" {
		limit := int(s.maxUDPSize.Load())
		if limit == 0 {
			limit = dns.MinMsgSize
			if opt != nil {
				limit = max(int(opt.UDPSize()), dns.MinMsgSize)
			}
		}
		if resp.Len() > limit {
			truncate(resp)
		}
	}
	_ = w.WriteMsg(resp)
}

// truncate empties the record sections of m (keeping EDNS0) and sets TC.
func truncate(m *dns.Msg) {
	opt := m.IsEdns0()
	m.Answer, m.Ns, m.Extra = nil, nil, nil
	if opt != nil {
		m.Extra = []dns.RR{opt}
	}
	m.Truncated = true
}

// questionKey returns the key resolver.CanonicalName gives for the name a
// query asked, which arrives in presentation form: packed and unpacked by
// miekg/dns, so that every spelling of its escapes gives the same key, with
// ASCII letters in lower case (RFC 4343).
func questionKey(name string) string {
	var buf [320]byte
	off, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return ""
	}
	wire := buf[:off]
	for i, c := range wire {
		if 'A' <= c && c <= 'Z' {
			wire[i] = c + 'a' - 'A'
		}
	}
	key, _, err := dns.UnpackDomainName(wire, 0)
	if err != nil {
		return ""
	}
	return key
}

package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/postfix"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

// pfxZone is the DNS the policy service sees. Clients are made to appear
// at documentation addresses through Postfix's XCLIENT.
const pfxZone = `
$ORIGIN example.
$TTL 300
sender.example.       IN TXT "v=spf1 ip4:192.0.2.10 -all"
mail.sender.example.  IN TXT "v=spf1 ip4:192.0.2.10 -all"
mail.sender.example.  IN A   192.0.2.10
forged.example.       IN TXT "v=spf1 ip4:192.0.2.10 -all exp=why.forged.example"
why.forged.example.   IN TXT "%{i} may not send mail for %{d}"
mx.dest.example.      IN TXT "v=spf1 ip4:192.0.2.20 -all"
temp.example.         IN TXT "v=spf1 -all"
load.example.         IN TXT "v=spf1 ip4:192.0.2.0/28 include:_spf.load.example -all"
_spf.load.example.    IN TXT "v=spf1 ip4:198.51.100.0/24 a:mail.load.example -all"
mail.load.example.    IN A   192.0.2.200
`

// TestPostfixPolicyAndSRS runs a private Postfix whose smtpd asks our
// policy service (check_policy_service) at RCPT and whose cleanup rewrites
// envelope addresses through our SRS service (sender_canonical_maps and
// recipient_canonical_maps over socketmap), and delivers through it to a
// test receiver.
func TestPostfixPolicyAndSRS(t *testing.T) {
	requirePeer(t, "postfix", "/usr/sbin/postfix")
	z, err := resolver.ParseZone(strings.NewReader(pfxZone), ".")
	require.NoError(t, err)
	require.NoError(t, z.SetFailure("temp.example", dns.TypeTXT, resolver.FailServFail))
	dnsSrv := resolvertest.NewServer(t, z)

	dir := t.TempDir()
	secrets := filepath.Join(dir, "srs.secret")
	require.NoError(t, os.WriteFile(secrets, []byte("interop secret for smtpsec serve srs\n"), 0o600))
	policy := pfxStartService(t, 1, "serve", "policy", "--listen", "127.0.0.1:0", "--dns", dnsSrv.Addr(),
		"--receiver", "mx.fwd.example", "--timeout", "5s", "--log-level", "debug")
	srs := pfxStartService(t, 1, "serve", "srs", "--domain", "fwd.example", "--secrets", secrets,
		"--socketmap", "127.0.0.1:0", "--exclude", "fwd.example,.fwd.example", "--log-level", "debug")
	policyAddr, srsAddr := policy.addrs["policy"], srs.addrs["srs socketmap"]
	require.NotEmpty(t, policyAddr)
	require.NotEmpty(t, srsAddr)

	rcv := &pfxReceiver{cond: make(chan struct{}, 1)}
	rcvAddr := smtpserver.Start(t, &smtpserver.Config{
		Hostname: "mx.dest.example",
		Deliver: func(_ context.Context, m *smtpserver.Message) *smtpsec.ReplyError {
			d := pfxDelivery{From: m.Mail.Path, Data: string(m.Data)}
			for _, r := range m.Rcpts {
				d.To = append(d.To, r.Path)
			}
			rcv.add(d)
			return nil
		},
	})
	ca := testcert.NewCA(t)
	pf := startPostfix(t, ca, ca.Leaf("mx.fwd.example", "localhost"), postfixConfig{
		Main: []string{
			// startPostfix replaces base settings named here in place
			// (a repeated main.cf entry makes Postfix warn at every daemon
			// start, and those warnings, sent before postlogd runs, wedge
			// the daemons).
			// fwd.example is a virtual alias domain; its SRS addresses are
			// not listed, so unlisted recipients must pass smtpd (cleanup
			// reverses them).
			"virtual_alias_domains = fwd.example",
			"smtpd_reject_unlisted_recipient = no",
			"smtpd_peername_lookup = no",
			"smtpd_authorized_xclient_hosts = 127.0.0.0/8",
			"smtputf8_enable = no",
			"virtual_alias_maps = inline:{ alice@fwd.example=bob@dest.example, team@fwd.example=carol@dest.example }",
			"smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service { inet:" + policyAddr + ", timeout=30s, default_action=DEFER_IF_PERMIT }",
			"sender_canonical_maps = socketmap:inet:" + srsAddr + ":forward",
			"sender_canonical_classes = envelope_sender",
			"recipient_canonical_maps = socketmap:inet:" + srsAddr + ":reverse",
			"recipient_canonical_classes = envelope_recipient",
		},
		Transport: []string{
			"dest.example smtp:[127.0.0.1]:" + strings.Split(rcvAddr, ":")[1],
			"sender.example smtp:[127.0.0.1]:" + strings.Split(rcvAddr, ":")[1],
		},
	})
	smtpAddr := fmt.Sprintf("127.0.0.1:%d", pf.SMTP)

	// 1. A message from a client that sender.example authorises, to an
	// alias that forwards it: Received-SPF pass is prepended once for two
	// recipients, and the envelope sender leaves Postfix as SRS0.
	c := pfxDial(t, smtpAddr)
	c.Client(t, "192.0.2.10", "mail.sender.example")
	c.Must(t, 250, "MAIL FROM:<alice@sender.example>")
	c.Must(t, 250, "RCPT TO:<alice@fwd.example>")
	c.Must(t, 250, "RCPT TO:<team@fwd.example>")
	r := c.Data(t, "From: alice@sender.example\r\nTo: alice@fwd.example\r\nSubject: forwarded\r\nMessage-ID: <pfx-1@sender.example>\r\n\r\nhello\r\n")
	require.Equal(t, 250, r.Code, "%v", r)
	c.Must(t, 221, "QUIT")
	fwd := rcv.wait(t, "of the forwarded message", func(d pfxDelivery) bool { return strings.Contains(d.Data, "pfx-1@sender.example") })
	assert.Regexp(t, `^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=sender\.example=alice@fwd\.example$`, fwd.From, "envelope sender rewritten by the SRS socketmap")
	assert.ElementsMatch(t, []string{"bob@dest.example", "carol@dest.example"}, fwd.To)
	fields := regexp.MustCompile(`(?m)^Received-SPF: .*$`).FindAllString(fwd.Data, -1)
	require.Len(t, fields, 1, "one Received-SPF for the message:\n%s", fwd.Data)
	assert.Regexp(t, `^Received-SPF: pass \(mx\.fwd\.example: domain of alice@sender\.example designates 192\.0\.2\.10 as permitted sender\) client-ip=192\.0\.2\.10; envelope-from="?alice@sender\.example"?; helo=mail\.sender\.example; receiver=mx\.fwd\.example; identity=mailfrom; mechanism="?ip4:192\.0\.2\.10"?;\r?$`, fields[0])
	t.Logf("forwarded: MAIL FROM:<%s>, %s", fwd.From, strings.TrimSpace(fields[0]))

	// 2. A forged sender: rejected at RCPT with 550 5.7.23 and the
	// domain's explanation, as the client sees it from Postfix.
	c = pfxDial(t, smtpAddr)
	c.Client(t, "192.0.2.66", "mail.other.example")
	c.Must(t, 250, "MAIL FROM:<mallory@forged.example>")
	r = c.Cmd(t, "RCPT TO:<alice@fwd.example>")
	assert.Equal(t, 550, r.Code, "%v", r)
	assert.Regexp(t, `^5\.7\.23 <alice@fwd\.example>: Recipient address rejected: SPF MAIL FROM check failed: 192\.0\.2\.66 may not send mail for forged\.example$`, r.Text)
	t.Logf("forged sender: %v", r)

	// 3. A DNS failure: deferred with 451 4.7.24.
	c.Must(t, 250, "RSET")
	c.Must(t, 250, "MAIL FROM:<someone@temp.example>")
	r = c.Cmd(t, "RCPT TO:<alice@fwd.example>")
	assert.Equal(t, 451, r.Code, "%v", r)
	assert.Regexp(t, `^4\.7\.24 .*SPF check of temp\.example failed temporarily`, r.Text)
	c.Must(t, 221, "QUIT")

	// 4. The bounce: a null-sender message to the SRS address comes back
	// from the receiver's MX and is delivered to the original sender.
	c = pfxDial(t, smtpAddr)
	c.Client(t, "192.0.2.20", "mx.dest.example")
	c.Must(t, 250, "MAIL FROM:<>")
	c.Must(t, 250, "RCPT TO:<%s>", fwd.From)
	r = c.Data(t, "From: MAILER-DAEMON@mx.dest.example\r\nTo: "+fwd.From+"\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <pfx-bounce@mx.dest.example>\r\n\r\nbounce\r\n")
	require.Equal(t, 250, r.Code, "%v", r)
	c.Must(t, 221, "QUIT")
	bounce := rcv.wait(t, "of the bounce", func(d pfxDelivery) bool { return strings.Contains(d.Data, "pfx-bounce@mx.dest.example") })
	assert.Equal(t, "", bounce.From)
	assert.Equal(t, []string{"alice@sender.example"}, bounce.To, "SRS recipient reversed by the socketmap")
	assert.Regexp(t, `(?m)^Received-SPF: pass .*identity=helo`, bounce.Data)

	// 5. What Postfix logged: the SRS rewrite is visible in cleanup's
	// log, the rejection in smtpd's.
	pf.waitLog(t, 10*time.Second, "reject: RCPT from", "5.7.23")
	assert.Contains(t, policy.Log(), `msg=policy`)
	assert.NotContains(t, srs.Log(), "interop secret", "the secret reached the log")
}

// TestPostfixMapClients queries the SRS maps with Postfix's own table
// clients (postmap -q with tcp: and socketmap: tables), next to postsrsd
// 1.10 with the same secret: both mint the same addresses, each reverses
// what the other minted, and Postfix's %XX encoding of keys with spaces
// and 8-bit octets survives the trip.
func TestPostfixMapClients(t *testing.T) {
	postmap := requirePeer(t, "postmap", "/usr/sbin/postmap")
	postsrsdBin := requirePeer(t, "postsrsd", "/usr/sbin/postsrsd")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.cf"), []byte("compatibility_level = 3.6\n"), 0o644))
	secrets := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secrets, []byte("postmap test secret\nolder secret\n"), 0o600))
	ours := pfxStartService(t, 3, "serve", "srs", "--domain", "fwd.example", "--secrets", secrets,
		"--socketmap", "127.0.0.1:0", "--tcp-forward", "127.0.0.1:0", "--tcp-reverse", "127.0.0.1:0")
	pFwd, pRev := pfxStartPostsrsd2(t, postsrsdBin, secrets, "fwd.example")
	sock := ours.addrs["srs socketmap"]
	tables := map[string][2]string{
		"smtpsec tcp_table": {"tcp:" + ours.addrs["srs tcp_table forward"], "tcp:" + ours.addrs["srs tcp_table reverse"]},
		"smtpsec socketmap": {"socketmap:inet:" + sock + ":forward", "socketmap:inet:" + sock + ":reverse"},
		"postsrsd 1.10":     {"tcp:" + pFwd, "tcp:" + pRev},
	}
	query := func(key, table string) (string, bool) {
		cmd := exec.Command(postmap, "-c", dir, "-q", key, table)
		var out, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 && stderr.Len() == 0 {
			return "", false // not found
		}
		require.NoError(t, err, "postmap -q %q %s: %s", key, table, stderr.String())
		return strings.TrimSuffix(out.String(), "\n"), true
	}
	for _, key := range []string{
		"alice@sender.example",
		"Bob.Smith@Sender.Example",
		"first.last=x@sender.example",
		"bob smith@sender.example",
		"per%cent@sender.example",
		"j\xc3\xb6rg@sender.example",
	} {
		t.Run(key, func(t *testing.T) {
			minted := map[string]string{}
			for name, tb := range tables {
				v, ok := query(key, tb[0])
				require.True(t, ok, "%s: not rewritten", name)
				minted[name] = v
			}
			assert.Equal(t, minted["postsrsd 1.10"], minted["smtpsec tcp_table"], "tcp_table")
			assert.Equal(t, minted["postsrsd 1.10"], minted["smtpsec socketmap"], "socketmap")
			for name, tb := range tables {
				back, ok := query(minted["postsrsd 1.10"], tb[1])
				require.True(t, ok, "%s: %q not reversed", name, minted["postsrsd 1.10"])
				assert.Equal(t, key, back, name)
			}
		})
	}
	// Not rewritten, by either: an address in the SRS domain (postsrsd
	// answers it unchanged, smtpsec not found; Postfix does the same).
	for name, tb := range tables {
		v, ok := query("carol@fwd.example", tb[0])
		assert.True(t, !ok || v == "carol@fwd.example", "%s rewrote an address of its own domain to %q", name, v)
	}
}

// TestPostfixServiceLoad puts 200 concurrent policy connections with
// requests in flight on the policy service, then measures the SRS maps of
// smtpsec serve srs (tcp_table and socketmap) and of postsrsd 1.10
// (tcp_table) side by side, with the same secret and domain. Figures are
// logged, never asserted; memory is asserted to stay bounded.
func TestPostfixServiceLoad(t *testing.T) {
	postsrsdBin := requirePeer(t, "postsrsd", "/usr/sbin/postsrsd")
	z, err := resolver.ParseZone(strings.NewReader(pfxZone), ".")
	require.NoError(t, err)
	dnsSrv := resolvertest.NewServer(t, z)
	policy := pfxStartService(t, 1, "serve", "policy", "--listen", "127.0.0.1:0", "--dns", dnsSrv.Addr(),
		"--receiver", "mx.fwd.example", "--log-level", "info")
	addr := policy.addrs["policy"]

	// Hostile clients first: each is answered or cut off, and the service
	// lives on to carry the load below.
	for _, junk := range []string{
		"no equals sign\n\n",
		"request=" + strings.Repeat("A", 70<<10) + "\n\n",
		"\x00\xff\xfe garbage\n\n",
		"request=smtpd_access_policy\n", // never finished
		"request=other\n\n",
		strings.Repeat("=\n", 1000),
	} {
		c, err := pfxDialRetry(t.Context(), addr)
		require.NoError(t, err)
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.WriteString(c, junk)
		reply, _ := io.ReadAll(c)
		assert.NotContains(t, string(reply), "action=PREPEND", "junk %.20q answered as a request", junk)
		c.Close()
	}

	const conns, perConn = 200, 25
	pid := policy.cmd.Process.Pid
	rssBefore, _ := pfxRSS(pid)
	session := func(i int) (func(int) error, func()) {
		c, err := pfxDialRetry(t.Context(), addr)
		if err != nil {
			t.Error(err)
			return nil, nil
		}
		_ = c.SetDeadline(time.Now().Add(90 * time.Second))
		br := bufio.NewReader(c)
		var buf []byte
		return func(j int) error {
			// Addresses across 192.0.2.0/24: some pass through ip4, some
			// through the include's a: term, the rest fail; no instance,
			// so every request is a full check.
			ip := fmt.Sprintf("192.0.2.%d", (i*perConn+j)%256)
			req := postfix.NewPolicyRequest("request", "smtpd_access_policy", "protocol_state", "RCPT",
				"client_address", ip, "helo_name", "mail.load.example", "sender", fmt.Sprintf("u%d@load.example", j),
				"recipient", "bob@fwd.example")
			buf = req.AppendTo(buf[:0])
			if _, err := c.Write(buf); err != nil {
				return err
			}
			line, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if empty, err := br.ReadString('\n'); err != nil || empty != "\n" {
				return fmt.Errorf("reply not ended by an empty line: %q, %v", empty, err)
			}
			want := "action=PREPEND Received-SPF: pass "
			last, _ := strconv.Atoi(ip[len("192.0.2."):])
			if last >= 16 && last != 200 {
				want = "action=550 5.7.23 "
			}
			if !strings.HasPrefix(line, want) {
				return fmt.Errorf("%s: got %q, want %q...", ip, line, want)
			}
			return nil
		}, func() { c.Close() }
	}
	n, elapsed := pfxLoad(t, conns, perConn, session)
	rssAfter, peak := pfxRSS(pid)
	t.Logf("policy: %d requests over %d concurrent connections in %v: %.0f requests/s (SPF with an include and an a: term, DNS over UDP from resolvertest); RSS %d KiB before, %d KiB after, peak %d KiB",
		n, conns, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), rssBefore, rssAfter, peak)
	assert.Less(t, peak, 256<<10, "policy service peak RSS above 256 MiB")

	// With slow DNS every request waits at least 150 ms (three lookups in
	// sequence), so the 200 requests of a round are all in flight in the
	// service at once.
	dnsSrv.SetLatency(50 * time.Millisecond)
	n2, elapsed2 := pfxLoad(t, conns, 2, session)
	dnsSrv.SetLatency(0)
	_, peak2 := pfxRSS(pid)
	t.Logf("policy with 50 ms DNS latency: %d requests over %d connections in %v (served one at a time, at least %v); peak RSS %d KiB",
		n2, conns, elapsed2.Round(time.Millisecond), time.Duration(n2)*150*time.Millisecond, peak2)
	assert.Less(t, peak2, 256<<10, "policy service peak RSS above 256 MiB")

	// SRS, side by side with postsrsd 1.10 on the same secret and domain.
	dir := t.TempDir()
	secret := "load test secret shared with postsrsd"
	secrets := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secrets, []byte(secret+"\n"), 0o600))
	ours := pfxStartService(t, 2, "serve", "srs", "--domain", "fwd.example", "--secrets", secrets,
		"--socketmap", "127.0.0.1:0", "--tcp-forward", "127.0.0.1:0", "--log-level", "info")
	theirs := pfxStartPostsrsd(t, postsrsdBin, secrets, "fwd.example")

	const srsConns, srsPerConn = 50, 400
	tcpLoad := func(name, addr string) (int, time.Duration) {
		return pfxLoad(t, srsConns, srsPerConn, func(i int) (func(int) error, func()) {
			c, err := pfxDialRetry(t.Context(), addr)
			if err != nil {
				t.Error(err)
				return nil, nil
			}
			_ = c.SetDeadline(time.Now().Add(90 * time.Second))
			br := bufio.NewReader(c)
			return func(j int) error {
				if _, err := fmt.Fprintf(c, "get user%d.%d@sender.example\n", i, j); err != nil {
					return err
				}
				line, err := br.ReadString('\n')
				if err != nil {
					return err
				}
				if !strings.HasPrefix(line, "200 SRS0=") {
					return fmt.Errorf("%s: %q", name, line)
				}
				return nil
			}, func() { c.Close() }
		})
	}
	// Both mint the same address for the same sender today.
	same := func(addr string) string {
		c, err := pfxDialRetry(t.Context(), addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, "get alice@sender.example\n")
		require.NoError(t, err)
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		return line
	}
	assert.Equal(t, same(theirs), same(ours.addrs["srs tcp_table forward"]), "postsrsd and smtpsec mint different SRS0 addresses")

	nOurs, dOurs := tcpLoad("smtpsec", ours.addrs["srs tcp_table forward"])
	nTheirs, dTheirs := tcpLoad("postsrsd", theirs)
	nSock, dSock := pfxLoad(t, srsConns, srsPerConn, func(i int) (func(int) error, func()) {
		c, err := pfxDialRetry(t.Context(), ours.addrs["srs socketmap"])
		if err != nil {
			t.Error(err)
			return nil, nil
		}
		_ = c.SetDeadline(time.Now().Add(90 * time.Second))
		br := bufio.NewReader(c)
		var buf []byte
		return func(j int) error {
			buf = postfix.AppendNetstring(buf[:0], fmt.Sprintf("forward user%d.%d@sender.example", i, j))
			if _, err := c.Write(buf); err != nil {
				return err
			}
			p, err := postfix.ReadNetstring(br, postfix.MaxSocketmapReply)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(string(p), "OK SRS0=") {
				return fmt.Errorf("socketmap: %q", p)
			}
			return nil
		}, func() { c.Close() }
	})
	_, srsPeak := pfxRSS(ours.cmd.Process.Pid)
	rate := func(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
	t.Logf("SRS forward map, %d connections x %d requests:", srsConns, srsPerConn)
	t.Logf("  smtpsec serve srs, tcp_table: %d in %v: %.0f requests/s", nOurs, dOurs.Round(time.Millisecond), rate(nOurs, dOurs))
	t.Logf("  postsrsd 1.10,     tcp_table: %d in %v: %.0f requests/s", nTheirs, dTheirs.Round(time.Millisecond), rate(nTheirs, dTheirs))
	t.Logf("  smtpsec serve srs, socketmap: %d in %v: %.0f requests/s", nSock, dSock.Round(time.Millisecond), rate(nSock, dSock))
	t.Logf("  ratio smtpsec/postsrsd (tcp_table): %.2f; smtpsec peak RSS %d KiB", rate(nOurs, dOurs)/rate(nTheirs, dTheirs), srsPeak)
	assert.Less(t, srsPeak, 256<<10, "srs service peak RSS above 256 MiB")
}

// pfxStartPostsrsd runs postsrsd 1.x in the foreground on 127.0.0.1 with
// the secrets file and its forward and reverse maps on free ports, and
// returns the forward map's address (the reverse map's is pfxReverseAddr
// of it). It is killed at cleanup.
func pfxStartPostsrsd(t *testing.T, bin, secrets, domain string) string {
	f, _ := pfxStartPostsrsd2(t, bin, secrets, domain)
	return f
}

// pfxStartPostsrsd2 is pfxStartPostsrsd returning both addresses.
func pfxStartPostsrsd2(t *testing.T, bin, secrets, domain string) (fwd, rev string) {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		require.NoError(t, err)
		fport := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp4", "127.0.0.1:0")
		require.NoError(t, err)
		rport := l2.Addr().(*net.TCPAddr).Port
		l.Close()
		l2.Close()
		cmd := exec.Command(bin, "-s"+secrets, "-d"+domain, "-l127.0.0.1", "-4",
			"-f"+strconv.Itoa(fport), "-r"+strconv.Itoa(rport), "-t60")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		addr := "127.0.0.1:" + strconv.Itoa(fport)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		c, err := pfxDialRetry(ctx, addr)
		cancel()
		if err != nil {
			_ = cmd.Process.Kill()
			<-exited
			t.Logf("postsrsd attempt %d: %v; output: %s", attempt, err, out.String())
			continue
		}
		c.Close()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
		return addr, "127.0.0.1:" + strconv.Itoa(rport)
	}
	t.Fatal("cannot start postsrsd")
	return "", ""
}

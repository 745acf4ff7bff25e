// Package postfix implements the server side of three Postfix lookup
// protocols, so that a Go program can answer Postfix directly:
//
//   - the SMTPD policy delegation protocol (SMTPD_POLICY_README), used by
//     check_policy_service: Postfix sends name=value lines ended by an
//     empty line, and the server answers one line "action=..." and an
//     empty line. [PolicyServer] serves it; [ReadPolicyRequest] parses a
//     request; [Prepend] and [Reply] build actions.
//   - the socketmap table protocol (socketmap_table(5), Postfix 2.10 and
//     later, as postsrsd 2.x speaks it): a netstring "name key" per
//     request, a netstring "OK value", "NOTFOUND ", "TEMP reason",
//     "TIMEOUT reason" or "PERM reason" per reply. [SocketmapServer]
//     serves it; [ReadNetstring] and [ParseSocketmapRequest] parse it.
//   - the tcp_table protocol (tcp_table(5), as postsrsd 1.x speaks it): a
//     line "get key" per request, a line "200 value", "500 reason" or "400
//     reason" per reply, key and value %XX-encoded. [TCPTableServer]
//     serves one table per listener; [ParseTCPTableRequest] parses it.
//
// Each server accepts many connections at once, serves requests on a
// connection one after the other as Postfix sends them, and stops
// gracefully when its context ends: it stops accepting, closes idle
// connections, lets requests in progress finish within
// [Limits.ShutdownTimeout], and returns.
//
// # Errors and malformed requests
//
// A policy request that cannot be parsed, and a handler error, close the
// connection without a reply: SMTPD_POLICY_README asks a policy server in
// trouble to log and disconnect, and Postfix then retries and finally
// applies smtpd_policy_service_default_action (451 4.3.5 by default). A
// socketmap netstring that is well formed but not "name key" gets "PERM
// malformed request"; a broken netstring closes the connection, because
// the stream cannot be resynchronised. A tcp_table line that is not "get
// key" gets "500 malformed request"; an overlong line gets the same and
// the connection is closed.
//
// # Security considerations
//
// None of the protocols is authenticated or encrypted (the Postfix manual
// pages say so): listen on loopback or on a UNIX-domain socket that only
// Postfix can reach. A policy server answers whoever connects, and a map
// server rewrites addresses for anyone, so exposing them lets others learn
// verdicts and mint SRS addresses.
//
// Every read is bounded ([Limits]): the wait for a request, the time and
// size of a request, the number of attributes, the number of requests on
// one connection and the number of connections. No request content can
// crash the server, and a handler that panics loses only its connection
// (the panic is logged with its stack); handlers run with a context that
// ends after Limits.HandlerTimeout.
//
// # Limits
//
// Memory per connection is bounded by Limits.MaxRequestSize plus 8 KiB of
// buffers, and connections by Limits.MaxConns: with the defaults, under
// 100 MiB for a thousand policy connections sending the largest requests.
// Only lookups are served (tcp_table "put" is refused, as Postfix never
// sends it). Policy replies carry only the action attribute. Requests on
// one connection are answered in order, one at a time, which is how
// Postfix uses these protocols.
package postfix

// Package resolvertest provides a real DNS server for tests, like
// net/http/httptest does for HTTP.
//
// [NewServer] serves a [resolver.Zone] over UDP and TCP on 127.0.0.1 with a
// port chosen by the system, and stops it when the test ends. The server
// answers like a validating recursive resolver: NOERROR, NODATA, NXDOMAIN or
// SERVFAIL as the zone says, CNAME chains in the answer section, and the AD
// bit for names the zone marks secure ([resolver.Zone.SetSecure]) when the
// query sets DO or AD. Tests can make it slow ([Server.SetLatency]), truncate
// UDP answers above a size so that clients must retry over TCP
// ([Server.SetMaxUDPSize]), drop queries so that clients time out
// ([Server.Drop], or FailTimeout in the zone), and inspect what it received
// ([Server.Queries], [Server.Count]).
//
// [Server.Client] returns a [resolver.Client] that asks only this server and
// trusts its AD bit, so tests exercise the full wire path:
//
//	z, _ := resolver.ParseZone(strings.NewReader(zoneText), "example.test.")
//	srv := resolvertest.NewServer(t, z)
//	txts, err := srv.Client().LookupTXT(ctx, "example.test")
//
// # Security considerations
//
// The server listens on the loopback interface only and is meant for tests.
// It does not sign anything: the AD bit it sets is what a validating resolver
// would set, and only clients configured to trust it (as [Server.Client] is)
// believe it.
package resolvertest

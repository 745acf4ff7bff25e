// Package tlsrpt implements SMTP TLS Reporting (TLS-RPT), RFC 8460, for
// sending MTAs: the policy record, the result types, the mapping of this
// module's TLS, MTA-STS and DANE errors to them, an aggregator of session
// outcomes, and the JSON report with its file name and mail form.
//
// A domain asks for reports with a TXT record at _smtp._tls.<domain>
// (ParseRecord, LookupRecord):
//
//	_smtp._tls.example.com. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.com"
//
// A sender records every session to the domain's MX hosts, successful or
// not, under the policy that applied (STSPolicy for MTA-STS, TLSAPolicy
// for DANE, NoPolicy otherwise), with Aggregator.RecordSession. It turns a
// session's error into the failure details of RFC 8460 §4.4 (Details)
// through Classify, which knows the errors of packages starttls,
// starttls/mtasts and starttls/dane:
//
//	var agg tlsrpt.Aggregator
//	agg.RecordSession(tlsrpt.STSPolicy(stsResult), time.Now(), err, tlsrpt.Session{
//		SendingMTAIP: "192.0.2.1", ReceivingMXHostname: mx, ReceivingIP: ip})
//
// Once a UTC day is over, Aggregator.Flush returns one Report per policy
// domain. Report.JSON and Report.Gzip give the §4.4 document, FileName its
// §5.1 name, and Mail.Message a complete report e-mail (§5.3) with the
// Subject, TLS-Report-Domain and TLS-Report-Submitter headers. Sending it,
// by mail to the record's mailto: addresses or by HTTPS POST to its https:
// URLs, is the caller's job.
//
// The JSON field names are the RFC's and stable; mx-host is an array, as
// erratum 6241 corrects. Failure reason codes are short texts chosen so
// that failures group well; their wording is not stable.
//
// # Security considerations
//
// Report mail carries "TLS-Required: No" (RFC 8689 §3) and must be sent
// with those semantics: a report about a domain's broken TLS has to reach
// that domain, so its delivery must not be held to the recipient's MTA-STS
// or DANE policy. The report itself holds only what the sender saw of the
// recipient's own servers.
//
// Mail header values are checked for control characters, so that a
// hostile name cannot inject headers.
//
// # Limits
//
// An Aggregator keeps at most MaxDomains policy domains per day and
// MaxFailureDetails distinct failure groups per policy; sessions beyond
// are counted by Dropped or only in the summary.
package tlsrpt

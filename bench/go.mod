module github.com/smtpsec/smtpsec/bench

go 1.24.0

require github.com/smtpsec/smtpsec v0.0.0

replace github.com/smtpsec/smtpsec => ../

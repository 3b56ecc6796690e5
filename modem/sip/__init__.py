"""SIP (RFC 3261) user agent pieces for trunk lines: messages, transactions, UA, digest auth (all sans-IO)."""

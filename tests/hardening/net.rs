//! The network: proxies, bodies that trickle, redaction of echoed secrets, the OAuth redirect and refresh, random bytes.

//! The issuer identifier tokenmint signs as (RFC 8414 §2), and the loopback rule that decides
//! where plain http is allowed.

/// An issuer identifier that is not usable; the message names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidIssuer(pub String);

/// The longest issuer accepted (a bound on every token's size).
pub const MAX_ISSUER_BYTES: usize = 200;

/// A validated issuer identifier (RFC 8414 §2): https (or http on a loopback host), no query,
/// no fragment. Kept exactly as configured, so a trailing slash is present only if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    pub fn parse(s: &str) -> Result<Self, InvalidIssuer> {
        let bad = |why: &str| InvalidIssuer(format!("TOKENMINT_ISSUER {s:?} {why}"));
        if s.len() > MAX_ISSUER_BYTES {
            return Err(bad("is longer than 200 bytes"));
        }
        let url = url::Url::parse(s).map_err(|e| bad(&format!("is not a URL: {e}")))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("must not have a query or fragment (RFC 8414 §2)"));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            _ => return Err(bad("must use https (http only on a loopback host)")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not contain credentials"));
        }
        // The url crate adds "/" to an empty path; keep the operator's exact spelling.
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The issuer without a trailing slash, the base for endpoint URLs.
    pub fn base(&self) -> &str {
        self.0.trim_end_matches('/')
    }

    /// The path component without a trailing slash ("" for a bare origin).
    pub fn path(&self) -> String {
        url::Url::parse(&self.0)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default()
    }
}

/// Whether `url` names this machine (`localhost` or a loopback address): the only hosts plain
/// http is allowed for.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

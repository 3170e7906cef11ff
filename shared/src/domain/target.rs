//! Token audiences: RFC 8707 resource indicators and RFC 8693 logical audience names.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest audience accepted. With the other bounds (client id 64, scope 512, issuer 200
/// bytes) and the claims hook's 1 KiB budget, every token's JWS signing input stays well
/// inside KMS's 4,096-byte RAW limit.
pub const MAX_AUDIENCE_BYTES: usize = 256;

/// One audience a token may be addressed to, compared as an exact string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Audience(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAudience {
    #[error("an audience must not be empty")]
    Empty,
    #[error("an audience must be at most 256 bytes of printable ASCII without spaces")]
    Characters,
    #[error("a resource indicator must be an absolute URI without a fragment (RFC 8707 §2)")]
    NotAbsoluteUri,
}

impl Audience {
    /// A logical audience name (RFC 8693 `audience`): printable ASCII, no spaces.
    pub fn new(s: &str) -> Result<Self, InvalidAudience> {
        if s.is_empty() {
            return Err(InvalidAudience::Empty);
        }
        if !s.bytes().all(|b| (0x21..=0x7e).contains(&b)) || s.len() > MAX_AUDIENCE_BYTES {
            return Err(InvalidAudience::Characters);
        }
        Ok(Self(s.to_owned()))
    }

    /// A resource indicator (RFC 8707 `resource`): an absolute URI with no fragment, i.e.
    /// `scheme ":" hier-part [ "?" query ]` (RFC 3986 §4.3). Only the syntax that decides
    /// absoluteness is checked here: the value must then equal a registered audience exactly.
    pub fn resource(s: &str) -> Result<Self, InvalidAudience> {
        let aud = Self::new(s)?;
        let absolute = s.split_once(':').is_some_and(|(scheme, rest)| {
            let mut c = scheme.bytes();
            c.next().is_some_and(|b| b.is_ascii_alphabetic())
                && c.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                && !rest.is_empty()
        });
        if absolute && !s.contains('#') {
            Ok(aud)
        } else {
            Err(InvalidAudience::NotAbsoluteUri)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_must_be_absolute_without_fragment() {
        assert!(Audience::resource("https://api.example.com").is_ok());
        assert!(Audience::resource("https://api.example.com/v1?x=1").is_ok());
        assert!(Audience::resource("urn:example:api").is_ok());
        assert_eq!(
            Audience::resource("https://api.example.com#frag"),
            Err(InvalidAudience::NotAbsoluteUri)
        );
        assert_eq!(
            Audience::resource("/relative"),
            Err(InvalidAudience::NotAbsoluteUri)
        );
        assert_eq!(
            Audience::resource("api"),
            Err(InvalidAudience::NotAbsoluteUri)
        );
    }

    #[test]
    fn logical_names() {
        assert!(Audience::new("billing-api").is_ok());
        assert_eq!(Audience::new("a b"), Err(InvalidAudience::Characters));
        assert_eq!(Audience::new(""), Err(InvalidAudience::Empty));
    }
}

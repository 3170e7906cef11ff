//! Who a delegation names: a registered client or a user, typed so the two never mix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ClientId;

/// The longest user subject accepted.
pub const MAX_SUBJECT_BYTES: usize = 255;

/// A user's subject identifier as tokenmint issues it in `sub`: 1 to 255 bytes, no whitespace
/// or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserSub(String);

impl UserSub {
    pub fn new(s: &str) -> Result<Self, InvalidPrincipal> {
        let ok = (1..=MAX_SUBJECT_BYTES).contains(&s.len())
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidPrincipal(format!(
                "a user subject is 1 to {MAX_SUBJECT_BYTES} bytes without spaces or control \
                 characters"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A typed principal: `client:<client id>` or `user:<sub>`. A bare value means `user:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Principal {
    Client(ClientId),
    User(UserSub),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPrincipal(String);

impl Principal {
    pub fn client(id: &ClientId) -> Self {
        Self::Client(id.clone())
    }
}

impl FromStr for Principal {
    type Err = InvalidPrincipal;
    fn from_str(s: &str) -> Result<Self, InvalidPrincipal> {
        match s.split_once(':') {
            Some(("client", id)) => ClientId::new(id)
                .map(Self::Client)
                .map_err(|e| InvalidPrincipal(format!("client:{id:?}: {e}"))),
            Some(("user", sub)) => UserSub::new(sub).map(Self::User),
            _ => UserSub::new(s).map(Self::User),
        }
    }
}

impl TryFrom<String> for Principal {
    type Error = InvalidPrincipal;
    fn try_from(s: String) -> Result<Self, InvalidPrincipal> {
        s.parse()
    }
}

impl From<Principal> for String {
    fn from(p: Principal) -> String {
        p.to_string()
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client(id) => write!(f, "client:{id}"),
            Self::User(sub) => write!(f, "user:{}", sub.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_typed() {
        let p = |s: &str| s.parse::<Principal>().map(|p| p.to_string());
        assert_eq!(p("client:build-api"), Ok("client:build-api".into()));
        assert_eq!(p("user:alice"), Ok("user:alice".into()));
        assert_eq!(p("alice"), Ok("user:alice".into()));
        // A user subject may itself contain colons (URNs, qualified external subjects).
        assert_eq!(p("user:urn:x:1"), Ok("user:urn:x:1".into()));
        assert_eq!(p("urn:x:1"), Ok("user:urn:x:1".into()));
        for bad in ["client:", "client:a b", "user:", "", "a b", "user:\u{7}"] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
        assert!(p(&"u".repeat(256)).is_err());
        let json = serde_json::to_string(&"client:x".parse::<Principal>().unwrap()).unwrap();
        assert_eq!(json, "\"client:x\"");
    }
}

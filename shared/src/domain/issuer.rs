//! Trusted external issuers: whose tokens token exchange accepts as subject tokens (RFC 8693
//! §2.1), and how their claims map onto tokenmint's.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ScopeSet;
use crate::clock::UnixTime;

/// A trusted issuer's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedIssuer {
    /// The exact `iss` value its tokens carry.
    pub issuer: String,
    /// Where its signing keys are published (HTTPS; `http` only for loopback hosts).
    pub jwks_uri: String,
    /// If not empty, a token's `aud` must include one of these (besides being addressed to the
    /// requesting client).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// Which JOSE `typ` its tokens must have. Defaults to `at+jwt`.
    #[serde(default)]
    pub typ: TypRule,
    /// Where its tokens carry their scope. Defaults to `scope`.
    #[serde(default)]
    pub scope_claim: ScopeClaim,
    /// The most a token from it is granted; scope-less ID tokens (when `id_tokens`) get
    /// exactly this, and are refused without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_scope: Option<ScopeSet>,
    /// Whether its ID tokens are accepted as subject tokens: a token without a scope claim
    /// and not typed `at+jwt` is then granted `max_scope`. Defaults to false: a scope-less
    /// token is granted nothing, whatever the client calls it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub id_tokens: bool,
    /// Put before its `sub`, so two issuers' users never share a tokenmint subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_prefix: Option<String>,
    /// Upstream claims copied, under the claims namespace, into issued tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claim_map: Vec<ClaimMapping>,
    pub created_at: UnixTime,
}

/// The accepted JOSE header `typ` values (RFC 8725 §3.11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypRule {
    /// `at+jwt` or `application/at+jwt` (RFC 9068 §2.1).
    #[default]
    #[serde(rename = "at+jwt")]
    AtJwt,
    /// `JWT`, or no `typ` at all (what many providers put on access and ID tokens).
    #[serde(rename = "JWT")]
    Jwt,
    /// Any `typ`, or none.
    #[serde(rename = "any")]
    Any,
}

impl TypRule {
    pub fn accepts(self, typ: Option<&str>) -> bool {
        let t = typ.map(str::to_ascii_lowercase);
        match self {
            Self::AtJwt => matches!(t.as_deref(), Some("at+jwt" | "application/at+jwt")),
            Self::Jwt => matches!(t.as_deref(), None | Some("jwt" | "application/jwt")),
            Self::Any => true,
        }
    }
}

impl FromStr for TypRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "at+jwt" => Ok(Self::AtJwt),
            "JWT" | "jwt" => Ok(Self::Jwt),
            "any" => Ok(Self::Any),
            _ => Err(format!("typ {s:?}: expected at+jwt, JWT or any")),
        }
    }
}

impl fmt::Display for TypRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AtJwt => "at+jwt",
            Self::Jwt => "JWT",
            Self::Any => "any",
        })
    }
}

/// Where scopes are: `scope`, space-separated (RFC 8693 §4.2), or `scp`, an array (Okta,
/// Azure AD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeClaim {
    #[default]
    Scope,
    Scp,
}

impl FromStr for ScopeClaim {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "scope" => Ok(Self::Scope),
            "scp" => Ok(Self::Scp),
            _ => Err(format!("scope claim {s:?}: expected scope or scp")),
        }
    }
}

/// Names under the claims namespace that tokenmint itself issues or reads: the upstream
/// issuer of a chain (`idp`, which refresh families read back) and the user a client acts for
/// through a delegation (`user_id`, the default hook's `USER_ID_PARAMETER`). Neither a mapped
/// upstream claim nor a client attribute may take them.
pub const RESERVED_NAMESPACED_CLAIMS: &[&str] = &["idp", "user_id"];

/// `from=to`: the upstream claim `from` is issued as `<namespace>to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMapping {
    pub from: String,
    pub to: String,
}

impl FromStr for ClaimMapping {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = |n: &str| {
            (1..=64).contains(&n.len())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        match s.split_once('=') {
            Some((from, to)) if ok(from) && ok(to) => Ok(Self {
                from: from.into(),
                to: to.into(),
            }),
            _ => Err(format!(
                "claim mapping {s:?}: expected from=to, names of 1 to 64 characters from \
                 A-Z, a-z, 0-9, '.', '_', '-'"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_rules() {
        assert!(TypRule::AtJwt.accepts(Some("at+JWT")));
        assert!(TypRule::AtJwt.accepts(Some("application/at+jwt")));
        assert!(!TypRule::AtJwt.accepts(Some("JWT")));
        assert!(!TypRule::AtJwt.accepts(None));
        assert!(TypRule::Jwt.accepts(None));
        assert!(TypRule::Jwt.accepts(Some("JWT")));
        assert!(!TypRule::Jwt.accepts(Some("at+jwt")));
        assert!(TypRule::Any.accepts(Some("whatever")));
        assert_eq!("at+jwt".parse::<TypRule>(), Ok(TypRule::AtJwt));
        assert!("x".parse::<TypRule>().is_err());
    }

    #[test]
    fn claim_mappings() {
        let m: ClaimMapping = "groups=roles".parse().unwrap();
        assert_eq!((m.from.as_str(), m.to.as_str()), ("groups", "roles"));
        for bad in ["groups", "=roles", "groups=", "a b=c", "a=b=c"] {
            assert!(bad.parse::<ClaimMapping>().is_err(), "{bad}");
        }
    }
}

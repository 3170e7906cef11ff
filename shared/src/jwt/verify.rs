//! Strict validation of access tokens (RFC 9068 §4, RFC 8725).
//!
//! The rules are ours, not the token's: the algorithm is the one of a key we published, looked
//! up by `kid` among our own keys only; headers that would point verification elsewhere
//! (`jku`, `x5u`, `jwk`, `x5c`) or demand extensions (`crit`) are refused; the `typ` must be
//! `at+jwt`; times are checked against an injected clock.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{VerifyingKey, unb64};
use crate::clock::UnixTime;
use crate::domain::AccessTokenClaims;

/// Longest token accepted; anything longer is refused before decoding.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Header parameters that are never accepted: they would let the token choose its own key or
/// require processing we do not do (RFC 7515 §4.1, RFC 8725 §3.10).
const FORBIDDEN_HEADERS: &[&str] = &["jku", "x5u", "jwk", "x5c", "crit"];

/// Why a token is not valid. Callers map every variant to the same outward answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("refused header: {0}")]
    Header(String),
    #[error("unknown key id")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    #[error("invalid claims: {0}")]
    Claims(String),
    #[error("wrong issuer")]
    Issuer,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
}

/// A structurally valid token whose signature is not yet checked. `Debug` shows the header's
/// `alg` and `kid` only, never the token.
pub struct Unverified<'a> {
    signing_input: &'a str,
    alg: String,
    typ: Option<String>,
    kid: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl std::fmt::Debug for Unverified<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unverified")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// Splits and decodes a compact JWS and applies the header rules, `typ` included: one of our
/// access tokens.
pub fn parse(token: &str) -> Result<Unverified<'_>, Invalid> {
    let u = parse_with(token, |t| t.is_some_and(is_access_token_typ))?;
    // Our key ids are RFC 7638 thumbprints: anything else (a path, a query fragment, a KMS
    // ARN, 10 KiB of text) is refused here, before any key lookup it could steer.
    if !is_thumbprint(&u.kid) {
        return Err(Invalid::Header("kid is not one of ours".into()));
    }
    Ok(u)
}

/// 43 base64url characters: the form of an RFC 7638 SHA-256 thumbprint.
fn is_thumbprint(kid: &str) -> bool {
    kid.len() == 43
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// [`parse`] with another rule for the `typ` header (a trusted issuer's profile).
pub fn parse_with(
    token: &str,
    typ_ok: impl Fn(Option<&str>) -> bool,
) -> Result<Unverified<'_>, Invalid> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Invalid::Malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Invalid::Malformed("not three segments"));
    };
    let header = unb64(h).ok_or(Invalid::Malformed("header is not base64url"))?;
    let payload = unb64(p).ok_or(Invalid::Malformed("payload is not base64url"))?;
    let signature = unb64(s).ok_or(Invalid::Malformed("signature is not base64url"))?;

    // Parsed twice: as a map to see every member present, and as a struct, which refuses
    // duplicate members and wrongly typed ones.
    let members: Map<String, Value> = serde_json::from_slice(&header)
        .map_err(|_| Invalid::Malformed("header is not a JSON object"))?;
    if let Some(name) = FORBIDDEN_HEADERS.iter().find(|n| members.contains_key(**n)) {
        return Err(Invalid::Header((*name).to_owned()));
    }
    let header: Header =
        serde_json::from_slice(&header).map_err(|_| Invalid::Malformed("header members"))?;
    if !typ_ok(header.typ.as_deref()) {
        return Err(Invalid::Header("typ is not at+jwt".into()));
    }
    let kid = header.kid.ok_or_else(|| Invalid::Header("no kid".into()))?;
    Ok(Unverified {
        signing_input: &token[..h.len() + 1 + p.len()],
        alg: header.alg,
        typ: header.typ,
        kid,
        payload,
        signature,
    })
}

/// `at+jwt`, with or without the `application/` prefix, in any case (RFC 9068 §4).
pub fn is_access_token_typ(typ: &str) -> bool {
    let t = typ.to_ascii_lowercase();
    t == "at+jwt" || t == "application/at+jwt"
}

impl Unverified<'_> {
    /// The header's `typ`, unverified (it is covered by the signature checked later).
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The header's `alg`, unverified: the key it is checked with must have this algorithm.
    pub fn alg(&self) -> &str {
        &self.alg
    }

    /// The key id, to be looked up among our own published keys only.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The payload's `iss`, before any check: only to choose which issuer's keys to try.
    pub fn unverified_issuer(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct Iss {
            iss: String,
        }
        serde_json::from_slice::<Iss>(&self.payload)
            .ok()
            .map(|i| i.iss)
    }

    /// The payload as a JSON object, before any check: only to choose whose keys to try.
    pub fn unverified_payload(&self) -> Option<Map<String, Value>> {
        serde_json::from_slice(&self.payload).ok()
    }

    /// Checks the signature with `key`, whose algorithm must be the header's.
    pub fn verify(self, key: &VerifyingKey) -> Result<Verified, Invalid> {
        if key.verify(&self.alg, self.signing_input.as_bytes(), &self.signature) {
            Ok(Verified {
                payload: self.payload,
            })
        } else {
            Err(Invalid::Signature)
        }
    }
}

/// A token whose signature checked out; its claims are not yet checked. `Debug` shows nothing
/// of the payload.
pub struct Verified {
    payload: Vec<u8>,
}

/// What the claims must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub now: UnixTime,
    /// Tolerated clock skew for `nbf` and `iat` in the future. `exp` is applied exactly.
    pub leeway: u64,
    /// Whether to apply the time rules at all. Revocation does not: a genuine token of the
    /// caller's must be revocable whatever this process's clock says of it (RFC 7009 §2.1).
    pub check_times: bool,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified").finish_non_exhaustive()
    }
}

impl Verified {
    /// The payload as a JSON object, unchecked: for tokens of other issuers, whose claims
    /// their profile interprets. Duplicate members are refused.
    pub fn into_object(self) -> Result<Map<String, Value>, Invalid> {
        let strict: StrictObject = serde_json::from_slice(&self.payload)
            .map_err(|_| Invalid::Malformed("payload is not a JSON object"))?;
        Ok(strict.0)
    }

    /// Decodes the claims and applies the time and issuer rules.
    pub fn claims(&self, want: &Expectations<'_>) -> Result<AccessTokenClaims, Invalid> {
        let claims: AccessTokenClaims =
            serde_json::from_slice(&self.payload).map_err(|e| Invalid::Claims(e.to_string()))?;
        if claims.iss != want.issuer {
            return Err(Invalid::Issuer);
        }
        if !want.check_times {
            return Ok(claims);
        }
        if want.now >= claims.exp {
            return Err(Invalid::Expired);
        }
        let horizon = want.now.saturating_add(want.leeway);
        if claims.nbf > horizon || claims.iat > horizon {
            return Err(Invalid::NotYetValid);
        }
        Ok(claims)
    }
}

/// A JSON object whose deserialisation fails on a repeated member, where `serde_json`'s map
/// would silently keep the last one.
struct StrictObject(Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object without repeated members")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<StrictObject, A::Error> {
                let mut m = Map::new();
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    if m.insert(k.clone(), v).is_some() {
                        return Err(serde::de::Error::custom(format!("repeated member {k:?}")));
                    }
                }
                Ok(StrictObject(m))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Algorithm;
    use crate::jwt::{b64, mint};
    use crate::signer::Signer;
    use crate::signer::local::LocalKey;

    const ISS: &str = "https://issuer.example";

    fn claims(now: u64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: ISS.into(),
            sub: "c1".into(),
            aud: "https://api".into(),
            exp: now + 60,
            iat: now,
            nbf: now,
            jti: "j1".into(),
            client_id: "c1".into(),
            scope: "read".into(),
            dlg: vec![],
            act: None,
            chain: None,
            acr: None,
            amr: None,
            auth_time: None,
            extra: Default::default(),
        }
    }

    fn want(now: u64) -> Expectations<'static> {
        Expectations {
            issuer: ISS,
            now,
            leeway: 30,
            check_times: true,
        }
    }

    async fn token(key: &LocalKey, c: &AccessTokenClaims) -> String {
        let header = mint::encoded_header(key.alg(), key.kid());
        mint::mint(key, &header, c).await.unwrap()
    }

    fn check(token: &str, key: &LocalKey, now: u64) -> Result<AccessTokenClaims, Invalid> {
        let u = parse(token)?;
        assert_eq!(u.kid(), key.kid());
        let vk = key.public_jwk().verifying_key().unwrap();
        u.verify(&vk)?.claims(&want(now))
    }

    /// A token with an arbitrary header and payload, signed by `key` as if it were honest.
    fn forge(key: &LocalKey, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let sig = key.sign_now(input.as_bytes()).unwrap();
        format!("{input}.{}", b64(&sig))
    }

    #[tokio::test]
    async fn round_trip_and_time_rules() {
        for alg in [Algorithm::ES256, Algorithm::RS256, Algorithm::PS256] {
            let (key, _) = LocalKey::generate(alg).unwrap();
            let t = token(&key, &claims(1000)).await;
            assert_eq!(check(&t, &key, 1000).unwrap(), claims(1000));
            assert_eq!(check(&t, &key, 1059).unwrap().jti, "j1");
            assert_eq!(check(&t, &key, 1060), Err(Invalid::Expired));
            assert_eq!(check(&t, &key, 970).unwrap().jti, "j1");
            assert_eq!(check(&t, &key, 969), Err(Invalid::NotYetValid));
        }
    }

    #[tokio::test]
    async fn refuses_tampering_and_foreign_keys() {
        let (key, _) = LocalKey::generate(Algorithm::ES256).unwrap();
        let (other, _) = LocalKey::generate(Algorithm::ES256).unwrap();
        let t = token(&key, &claims(1000)).await;
        let vk_other = other.public_jwk().verifying_key().unwrap();
        assert_eq!(
            parse(&t).unwrap().verify(&vk_other).unwrap_err(),
            Invalid::Signature
        );
        let mut tampered = claims(1000);
        tampered.scope = "admin".into();
        let parts: Vec<&str> = t.split('.').collect();
        let swapped = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_vec(&tampered).unwrap()),
            parts[2]
        );
        assert_eq!(check(&swapped, &key, 1000), Err(Invalid::Signature));
    }

    #[test]
    fn header_rules() {
        let (key, _) = LocalKey::generate(Algorithm::ES256).unwrap();
        let kid = key.kid().to_owned();
        let body = serde_json::to_string(&claims(1000)).unwrap();
        let cases = [
            (
                format!(r#"{{"alg":"none","kid":"{kid}","typ":"at+jwt"}}"#),
                Invalid::Signature,
            ),
            (
                format!(r#"{{"alg":"RS256","kid":"{kid}","typ":"at+jwt"}}"#),
                Invalid::Signature,
            ),
            (
                format!(r#"{{"alg":"HS256","kid":"{kid}","typ":"at+jwt"}}"#),
                Invalid::Signature,
            ),
            (
                format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"JWT"}}"#),
                Invalid::Header("typ is not at+jwt".into()),
            ),
            (
                format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#),
                Invalid::Header("typ is not at+jwt".into()),
            ),
            (
                r#"{"alg":"ES256","typ":"at+jwt"}"#.to_owned(),
                Invalid::Header("no kid".into()),
            ),
            (
                format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"at+jwt","jku":"https://evil"}}"#),
                Invalid::Header("jku".into()),
            ),
            (
                format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"at+jwt","crit":["exp"]}}"#),
                Invalid::Header("crit".into()),
            ),
            (
                format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"at+jwt","x5c":null}}"#),
                Invalid::Header("x5c".into()),
            ),
            (
                format!(r#"{{"alg":"ES256","alg":"ES256","kid":"{kid}","typ":"at+jwt"}}"#),
                Invalid::Malformed("header members"),
            ),
            (
                r#"["ES256"]"#.to_owned(),
                Invalid::Malformed("header is not a JSON object"),
            ),
        ];
        for (header, expected) in cases {
            let t = forge(&key, &header, &body);
            assert_eq!(check(&t, &key, 1000), Err(expected), "{header}");
        }
        // The media-type form of typ, in any case, is accepted.
        let t = forge(
            &key,
            &format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"Application/AT+JWT"}}"#),
            &body,
        );
        assert!(check(&t, &key, 1000).is_ok());
    }

    #[test]
    fn every_key_pointing_header_is_refused() {
        let (key, _) = LocalKey::generate(Algorithm::ES256).unwrap();
        let body = serde_json::to_string(&claims(1000)).unwrap();
        for name in FORBIDDEN_HEADERS {
            let header = format!(
                r#"{{"alg":"ES256","kid":"{}","typ":"at+jwt","{name}":"x"}}"#,
                key.kid()
            );
            let t = forge(&key, &header, &body);
            assert_eq!(check(&t, &key, 1000), Err(Invalid::Header((*name).into())));
        }
    }

    #[test]
    fn claim_rules() {
        let (key, _) = LocalKey::generate(Algorithm::ES256).unwrap();
        let header = format!(r#"{{"alg":"ES256","kid":"{}","typ":"at+jwt"}}"#, key.kid());
        let good = serde_json::to_value(claims(1000)).unwrap();
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            c.to_string()
        };
        let cases = [
            with("iss", Value::from("https://other")),
            with("iss", serde_json::json!([ISS])),
            with("exp", Value::from("2000")),
            with("exp", Value::from(1060.5)),
            with("exp", Value::from(-1)),
            r#"{"iss":"x","iss":"y"}"#.to_owned(),
            "[]".to_owned(),
        ];
        for payload in cases {
            let t = forge(&key, &header, &payload);
            assert!(check(&t, &key, 1000).is_err(), "{payload}");
        }
    }

    #[test]
    fn malformed_structure() {
        let (key, _) = LocalKey::generate(Algorithm::ES256).unwrap();
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "..",
            "e30=.e30.AA",
            "e30.e30.A+A",
            "e30.e30.A/",
            &long,
        ] {
            assert!(
                matches!(check(bad, &key, 0), Err(Invalid::Malformed(_))),
                "{bad:?}"
            );
        }
        // Invalid UTF-8 in the header.
        let t = format!("{}.e30.AA", b64(b"\xff\xfe"));
        assert!(matches!(check(&t, &key, 0), Err(Invalid::Malformed(_))));
    }
}

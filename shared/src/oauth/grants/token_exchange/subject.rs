//! The subject token of an exchange (RFC 8693 §2.1): one of ours, validated exactly as
//! introspection does, or one of a trusted issuer's, validated under its profile.

use serde_json::{Map, Value};

use crate::app::{App, Site};
use crate::clock::UnixTime;
use crate::domain::{
    AccessTokenClaims, Actor, Chain, Principal, ScopeClaim, ScopeSet, TrustedIssuer, UserSub,
};
use crate::jwt::verify::{self, Invalid};
use crate::oauth::OAuthError;
pub use crate::oauth::grants::token_types::{ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, JWT_TYPE};
use crate::oauth::validation::validate_active;

/// The largest JSON value copied from an upstream claim by a claim mapping.
pub const MAX_MAPPED_CLAIM_BYTES: usize = 1024;

/// What the exchange needs to know of a valid subject token.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Issued by tokenmint itself.
    pub ours: bool,
    /// The token's `iss`.
    pub issuer: String,
    /// The subject as tokenmint names it (with the issuer's prefix, if any).
    pub sub: String,
    /// The token's scope; `None` for a scope-less upstream token.
    pub scope: Option<ScopeSet>,
    /// The issuer's `max_scope`: the most any of its tokens is granted.
    pub ceiling: Option<ScopeSet>,
    pub aud: Vec<String>,
    pub iat: Option<UnixTime>,
    pub exp: UnixTime,
    /// Ours only: the token id, the party it was issued to and the actors before it.
    pub jti: Option<String>,
    pub client_id: Option<String>,
    pub act: Option<Actor>,
    pub dlg: Vec<String>,
    /// Whom the token speaks for, typed; `None` when no delegation can rest on it.
    pub principal: Option<Principal>,
    /// Ours only: the earliest end of the delegations in `dlg`.
    pub delegations_end: Option<UnixTime>,
    pub chain: Option<Chain>,
    pub acr: Option<String>,
    pub amr: Option<Vec<String>>,
    pub auth_time: Option<UnixTime>,
    /// Claims carried into derived tokens: ours as issued, or the upstream issuer and mapped
    /// claims under the claims namespace.
    pub extra: Map<String, Value>,
}

impl Subject {
    /// The most an exchange of this token may grant: its scope, within its issuer's ceiling;
    /// for a scope-less token, the ceiling alone; `None` when there is neither.
    pub fn grantable(&self) -> Option<ScopeSet> {
        match (&self.scope, &self.ceiling) {
            (Some(s), Some(c)) => Some(s.intersection(c)),
            (Some(s), None) => Some(s.clone()),
            (None, c) => c.clone(),
        }
    }

    /// The principal the subject token speaks for: for ours, the kind the token records (a
    /// client's own client_credentials token, or an exchanged token's `chain.sub_type`). An
    /// upstream `sub` is always a user, whatever it looks like (`client:x` from an IdP names
    /// no client).
    pub fn principal(&self) -> Option<Principal> {
        self.principal.clone()
    }

    /// Whether the token acts for a user: only such chains may be extended by a client's
    /// `max_exchange_ttl`.
    pub fn is_user(&self) -> bool {
        matches!(self.principal, Some(Principal::User(_)))
    }

    /// Whether the token was issued for `client`: addressed to one of its audiences, or, for
    /// our tokens only, issued to it.
    pub fn is_for(&self, client: &crate::domain::Client) -> bool {
        let addressed = self
            .aud
            .iter()
            .any(|a| client.audiences.iter().any(|c| c.as_str() == a));
        addressed || (self.ours && self.client_id.as_deref() == Some(client.id.as_str()))
    }

    fn from_ours(c: AccessTokenClaims) -> Self {
        let principal = c.subject_principal();
        Self {
            principal,
            ours: true,
            issuer: c.iss,
            sub: c.sub,
            scope: ScopeSet::parse(&c.scope).ok(),
            ceiling: None,
            aud: vec![c.aud],
            iat: Some(c.iat),
            exp: c.exp,
            jti: Some(c.jti),
            client_id: Some(c.client_id),
            act: c.act,
            dlg: c.dlg,
            delegations_end: None,
            chain: c.chain,
            acr: c.acr,
            amr: c.amr,
            auth_time: c.auth_time,
            extra: c.extra,
        }
    }
}

fn invalid() -> OAuthError {
    OAuthError::invalid_request("the subject token is not valid")
}

fn rejected(why: impl std::fmt::Display) -> OAuthError {
    tracing::debug!(reason = %why, "subject token rejected");
    invalid()
}

/// Validates `token`, declared as `token_type`. Every reason a token is refused gets the same
/// answer; a dependency failure is 503.
pub async fn validate_subject(
    app: &App,
    site: &Site,
    token: &str,
    token_type: &str,
) -> Result<Subject, OAuthError> {
    if ![ACCESS_TOKEN_TYPE, JWT_TYPE, ID_TOKEN_TYPE].contains(&token_type) {
        return Err(OAuthError::invalid_request(
            "subject_token_type must be an access_token, jwt or id_token token type",
        ));
    }
    // Only to choose between our keys and one trusted issuer's: nothing is believed before
    // the signature is checked with a key of the issuer so chosen.
    let iss = verify::parse_with(token, |_| true)
        .map_err(rejected)?
        .unverified_issuer()
        .ok_or_else(|| rejected("no iss"))?;
    if iss == site.issuer.as_str() {
        if token_type == ID_TOKEN_TYPE {
            return Err(rejected("tokenmint issues no ID tokens"));
        }
        let (claims, end) = validate_active(app, site, token)
            .await?
            .ok_or_else(invalid)?;
        let mut subject = Subject::from_ours(claims);
        subject.delegations_end = Some(end).filter(|e| *e != u64::MAX);
        return Ok(subject);
    }
    // One read of the whole (short) list, whatever issuer the token names: what a token
    // claims never chooses which record is read.
    let issuers = app
        .issuers
        .list_issuers()
        .await
        .map_err(OAuthError::unavailable)?;
    let profile = issuers
        .into_iter()
        .find(|p| p.issuer == iss)
        .ok_or_else(|| rejected("untrusted issuer"))?;
    let unverified = verify::parse_with(token, |t| profile.typ.accepts(t)).map_err(rejected)?;
    // What the token is comes from the token and the profile; the client's label can only be
    // refused when it contradicts them (RFC 8693 §2.1, RFC 8725 §2.8, §3.11).
    let explicit_access_token = unverified.typ().is_some_and(verify::is_access_token_typ);
    if token_type == ID_TOKEN_TYPE {
        if explicit_access_token {
            return Err(OAuthError::invalid_request(
                "the subject token is typed at+jwt, an access token, not an id_token",
            ));
        }
        if !profile.id_tokens {
            return Err(OAuthError::invalid_request(
                "the subject token's issuer is not trusted for ID tokens",
            ));
        }
    }
    let key = app
        .upstream_keys
        .key(&profile.jwks_uri, unverified.kid())
        .await
        .map_err(OAuthError::upstream)?
        .ok_or_else(|| rejected(Invalid::UnknownKey))?;
    let claims = unverified
        .verify(&key)
        .and_then(|v| v.into_object())
        .map_err(rejected)?;
    upstream_subject(
        &profile,
        claims,
        app.clock.now(),
        app.config.leeway.as_secs(),
        &site.claims_namespace,
        explicit_access_token,
    )
    .map_err(rejected)
}

/// Applies a trusted issuer's profile to the claims of one of its tokens (signature already
/// checked): times, audience, subject, scope and the claims carried over.
/// `explicit_access_token`: the header's `typ` says `at+jwt`.
pub fn upstream_subject(
    profile: &TrustedIssuer,
    c: Map<String, Value>,
    now: UnixTime,
    leeway: u64,
    namespace: &str,
    explicit_access_token: bool,
) -> Result<Subject, String> {
    if c.get("iss").and_then(Value::as_str) != Some(profile.issuer.as_str()) {
        return Err("wrong issuer".into());
    }
    let (iat, exp) = upstream_times(&c, now, leeway)?;
    let aud = strings(c.get("aud"), "aud")?.unwrap_or_default();
    if !profile.audiences.is_empty() && !aud.iter().any(|a| profile.audiences.contains(a)) {
        return Err("aud is none of the issuer's audiences".into());
    }
    let upstream_sub = c.get("sub").and_then(Value::as_str).ok_or("no sub")?;
    let sub = format!(
        "{}{upstream_sub}",
        profile.subject_prefix.as_deref().unwrap_or_default()
    );
    let principal = Principal::User(UserSub::new(&sub).map_err(|e| e.to_string())?);
    // A scope the token carries is never ignored, whatever the client calls the token. A
    // scope-less token is granted the issuer's ceiling only if it is an ID token the profile
    // accepts; any other scope-less token is granted nothing.
    let scope = scope_of(profile.scope_claim, &c)?;
    let ceiling = match &scope {
        None if !profile.id_tokens || explicit_access_token => None,
        _ => profile.max_scope.clone(),
    };
    let extra = mapped_claims(profile, &c, namespace)?;
    Ok(Subject {
        ours: false,
        issuer: profile.issuer.clone(),
        sub,
        scope,
        ceiling,
        aud,
        iat,
        exp,
        jti: None,
        client_id: None,
        // An upstream `act` is not carried: `act` is computed by tokenmint only.
        act: None,
        dlg: vec![],
        principal: Some(principal),
        delegations_end: None,
        chain: None,
        acr: bounded(optional_string(c.get("acr"), "acr")?, "acr")?,
        amr: bounded_list(strings(c.get("amr"), "amr")?)?,
        auth_time: numeric_date(&c, "auth_time")?,
        extra,
    })
}

/// A NumericDate claim (RFC 7519 §2), if present.
fn numeric_date(c: &Map<String, Value>, name: &str) -> Result<Option<UnixTime>, String> {
    match c.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{name} is not a NumericDate")),
    }
}

/// `iat` and `exp` of an upstream token, checked with `nbf` against `now` (RFC 7519 §4.1.4,
/// §4.1.5; `iat` and `nbf` within the leeway).
fn upstream_times(
    c: &Map<String, Value>,
    now: UnixTime,
    leeway: u64,
) -> Result<(Option<UnixTime>, UnixTime), String> {
    let exp = numeric_date(c, "exp")?.ok_or("no exp")?;
    if now >= exp {
        return Err("expired".into());
    }
    let (iat, nbf) = (numeric_date(c, "iat")?, numeric_date(c, "nbf")?);
    let horizon = now.saturating_add(leeway);
    if iat.is_some_and(|t| t > horizon) || nbf.is_some_and(|t| t > horizon) {
        return Err("not yet valid".into());
    }
    Ok((iat, exp))
}

/// The claims an upstream token carries into ours: its issuer as `idp`, and the profile's
/// mappings, each bounded.
fn mapped_claims(
    profile: &TrustedIssuer,
    c: &Map<String, Value>,
    namespace: &str,
) -> Result<Map<String, Value>, String> {
    let mut extra = Map::new();
    extra.insert(
        format!("{namespace}idp"),
        Value::from(profile.issuer.clone()),
    );
    // A profile stored before mapping targets were checked may still name one tokenmint
    // issues itself: such a mapping is skipped, never applied.
    let mappings = profile
        .claim_map
        .iter()
        .filter(|m| !crate::domain::RESERVED_NAMESPACED_CLAIMS.contains(&m.to.as_str()));
    for m in mappings {
        if let Some(v) = c.get(&m.from) {
            if v.to_string().len() > MAX_MAPPED_CLAIM_BYTES {
                return Err(format!("claim {} is too large to map", m.from));
            }
            extra.insert(format!("{namespace}{}", m.to), v.clone());
        }
    }
    Ok(extra)
}

/// The longest `acr` or `amr` value copied, and the most `amr` values: bounds on the size of
/// every issued token.
pub const MAX_AUTH_VALUE_BYTES: usize = 256;
pub const MAX_AMR_VALUES: usize = 8;

fn bounded(v: Option<String>, name: &str) -> Result<Option<String>, String> {
    match v {
        Some(s) if s.len() > MAX_AUTH_VALUE_BYTES => Err(format!("{name} is too long")),
        other => Ok(other),
    }
}

fn bounded_list(v: Option<Vec<String>>) -> Result<Option<Vec<String>>, String> {
    match v {
        Some(l) if l.len() > MAX_AMR_VALUES || l.iter().any(|s| s.len() > MAX_AUTH_VALUE_BYTES) => {
            Err("amr is too long".into())
        }
        other => Ok(other),
    }
}

fn optional_string(v: Option<&Value>, name: &str) -> Result<Option<String>, String> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{name} is not a string")),
    }
}

/// A string or an array of strings (`aud`, RFC 7519 §4.1.3; `amr`; `scp`).
fn strings(v: Option<&Value>, name: &str) -> Result<Option<Vec<String>>, String> {
    let bad = || format!("{name} is neither a string nor an array of strings");
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(String::from).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

/// The token's scope: the profile's claim, and the other one too when it is present (a token
/// carrying both is granted what both allow): a scope claim that is present is never
/// ignored, whatever the profile expects. `scope` is a space-separated string (RFC 8693 §4.2),
/// `scp` a string or an array.
fn scope_of(claim: ScopeClaim, c: &Map<String, Value>) -> Result<Option<ScopeSet>, String> {
    let parse = |s: String| ScopeSet::parse(&s).map_err(|e| e.to_string());
    let scope = optional_string(c.get("scope"), "scope")?
        .map(parse)
        .transpose()?;
    let scp = strings(c.get("scp"), "scp")?
        .map(|v| parse(v.join(" ")))
        .transpose()?;
    let (expected, other) = match claim {
        ScopeClaim::Scope => (scope, scp),
        ScopeClaim::Scp => (scp, scope),
    };
    Ok(match (expected, other) {
        (Some(a), Some(b)) => Some(a.intersection(&b)),
        (a, b) => a.or(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClaimMapping, TypRule};
    use serde_json::json;

    fn profile() -> TrustedIssuer {
        TrustedIssuer {
            issuer: "https://idp.example/".into(),
            jwks_uri: "https://idp.example/jwks".into(),
            audiences: vec![],
            typ: TypRule::AtJwt,
            scope_claim: ScopeClaim::Scope,
            max_scope: None,
            id_tokens: false,
            subject_prefix: Some("idp|".into()),
            claim_map: vec![ClaimMapping {
                from: "groups".into(),
                to: "roles".into(),
            }],
            created_at: 0,
        }
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut c = json!({
            "iss": "https://idp.example/", "sub": "u1", "aud": ["https://api"],
            "exp": 2000, "iat": 1000, "scope": "read write", "groups": ["a"],
            "acr": "urn:mfa", "amr": ["pwd", "otp"], "auth_time": 990,
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c.as_object().unwrap().clone()
    }

    const NS: &str = "https://tm.example/claims/";

    #[test]
    fn maps_an_upstream_token() {
        let s = upstream_subject(&profile(), claims(json!({})), 1500, 30, NS, false).unwrap();
        assert_eq!(s.sub, "idp|u1");
        assert_eq!(s.scope.clone().unwrap().to_string(), "read write");
        assert_eq!(s.aud, ["https://api"]);
        assert_eq!(s.acr.as_deref(), Some("urn:mfa"));
        assert_eq!(s.amr.clone().unwrap(), ["pwd", "otp"]);
        assert_eq!(s.auth_time, Some(990));
        assert_eq!(s.extra[&format!("{NS}idp")], "https://idp.example/");
        assert_eq!(s.extra[&format!("{NS}roles")], json!(["a"]));
        assert!(!s.ours);
        assert_eq!(s.principal().unwrap().to_string(), "user:idp|u1");
        // A scope the token carries is kept, whatever the token is called.
        let mut p = profile();
        p.max_scope = Some(ScopeSet::parse("read admin").unwrap());
        p.id_tokens = true;
        let s = upstream_subject(&p, claims(json!({})), 1500, 30, NS, false).unwrap();
        assert_eq!(s.grantable().unwrap().to_string(), "read");
        // A scope-less token gets the ceiling only as an ID token of a profile that accepts
        // them, and never when typed at+jwt.
        let scope_less = || {
            let mut c = claims(json!({}));
            c.remove("scope");
            c
        };
        let s = upstream_subject(&p, scope_less(), 1500, 30, NS, false).unwrap();
        assert_eq!(s.grantable().unwrap().to_string(), "admin read");
        let s = upstream_subject(&p, scope_less(), 1500, 30, NS, true).unwrap();
        assert!(s.grantable().is_none());
        p.id_tokens = false;
        let s = upstream_subject(&p, scope_less(), 1500, 30, NS, false).unwrap();
        assert!(s.grantable().is_none());
        // An upstream act is never carried.
        let s = upstream_subject(
            &profile(),
            claims(json!({"act": {"sub": "payments-svc"}})),
            1500,
            30,
            NS,
            false,
        )
        .unwrap();
        assert!(s.act.is_none());
    }

    #[test]
    fn an_upstream_client_looking_subject_is_a_user() {
        let mut p = profile();
        p.subject_prefix = None;
        let s = upstream_subject(
            &p,
            claims(json!({"sub": "client:build-api"})),
            1500,
            30,
            NS,
            false,
        )
        .unwrap();
        assert!(matches!(s.principal(), Some(Principal::User(_))));
    }

    #[test]
    fn refuses_bad_claims() {
        let cases = [
            json!({"iss": "https://other/"}),
            json!({"iss": ["https://idp.example/"]}),
            json!({"exp": 1500}),
            json!({"exp": "2000"}),
            json!({"exp": 2000.5}),
            json!({"iat": 1531}),
            json!({"nbf": 1600}),
            json!({"aud": 7}),
            json!({"sub": 7}),
            json!({"sub": "a b"}),
            json!({"scope": ["read"]}),
            json!({"scope": "bad\"scope"}),
            json!({"acr": 2}),
            json!({"amr": "x y", "auth_time": "now"}),
            json!({"acr": "a".repeat(300)}),
            json!({"amr": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]}),
            json!({"groups": "x".repeat(2000)}),
        ];
        for extra in cases {
            assert!(
                upstream_subject(&profile(), claims(extra.clone()), 1500, 30, NS, false).is_err(),
                "{extra}"
            );
        }
        let mut missing = claims(json!({}));
        missing.remove("exp");
        assert!(upstream_subject(&profile(), missing, 1500, 30, NS, false).is_err());
        let mut p = profile();
        p.audiences = vec!["https://other".into()];
        assert!(upstream_subject(&p, claims(json!({})), 1500, 30, NS, false).is_err());
        p.audiences.push("https://api".into());
        assert!(upstream_subject(&p, claims(json!({})), 1500, 30, NS, false).is_ok());
    }

    #[test]
    fn scp_arrays() {
        let mut p = profile();
        p.scope_claim = ScopeClaim::Scp;
        let mut scp_array = claims(json!({"scp": ["read", "admin"]}));
        scp_array.remove("scope");
        let s = upstream_subject(&p, scp_array, 1500, 30, NS, false).unwrap();
        assert_eq!(s.scope.unwrap().to_string(), "admin read");
        let mut none = claims(json!({}));
        none.remove("scope");
        let s = upstream_subject(&p, none, 1500, 30, NS, false).unwrap();
        assert!(s.scope.is_none());
        // The claim the profile does not expect is never ignored: alone it is the scope,
        // beside the expected one it narrows it.
        let s = upstream_subject(&p, claims(json!({})), 1500, 30, NS, false).unwrap();
        assert_eq!(s.scope.unwrap().to_string(), "read write");
        let s = upstream_subject(&p, claims(json!({"scp": "read"})), 1500, 30, NS, false).unwrap();
        assert_eq!(s.scope.unwrap().to_string(), "read");
        p.scope_claim = ScopeClaim::Scope;
        p.id_tokens = true;
        p.max_scope = Some(ScopeSet::parse("read write admin").unwrap());
        let mut scp_only = claims(json!({"scp": ["read"]}));
        scp_only.remove("scope");
        let s = upstream_subject(&p, scp_only, 1500, 30, NS, false).unwrap();
        assert_eq!(s.grantable().unwrap().to_string(), "read");
    }
}

//! Verifying a platform token against a client's federated credentials: the one procedure the
//! token, introspection and revocation endpoints and `tokenmint client explain` all run, so
//! what explain prints is what the endpoints decide.
//!
//! In order: the header rules of every token tokenmint reads (no `jku`, `x5u`, `jwk`, `x5c`,
//! `crit`; a `kid`); an allowed algorithm (RS256, ES256, PS256); an `iss` that one of the
//! client's credentials names exactly (otherwise nothing is fetched: attacker-chosen tokens
//! cannot steer a fetch); the signature, by a key of that issuer's JWKS, found through its
//! discovery document; `exp` (required) and `nbf` with the leeway; then per credential, `aud`
//! and the condition. The first credential all of whose checks pass authenticates.

use serde::Serialize;
use serde_json::{Map, Value};

use super::condition::{Conditions, Outcome};
use crate::clock::UnixTime;
use crate::domain::{Client, FederatedCredential};
use crate::jwt::verify;
use crate::upstream::{FetchError, UpstreamKeys};

/// Signature algorithms a platform token may use.
pub const ALGORITHMS: &[&str] = &["RS256", "ES256", "PS256"];

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// The checks of one credential, and the values of the claims its condition reads.
#[derive(Debug, Clone, Serialize)]
pub struct CredentialReport {
    pub name: String,
    pub issuer: String,
    pub checks: Vec<Check>,
    /// Each claim the condition reads, with its value in the token (null when absent).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<(String, Value)>,
}

impl CredentialReport {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }

    /// The first failed check, as one phrase.
    pub fn failure(&self) -> Option<String> {
        self.checks
            .iter()
            .find(|c| !c.ok)
            .map(|c| format!("{}: {}", c.check, c.detail))
    }
}

/// Who the platform says presented the token, once a credential matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformIdentity {
    /// The credential that matched.
    pub credential: String,
    pub issuer: String,
    pub sub: String,
    pub jti: Option<String>,
    /// The credential's claim mappings applied: target name (without the namespace) and value.
    pub mapped: Map<String, Value>,
}

/// Everything the verification found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Why the token was refused before any credential could be tried, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub credentials: Vec<CredentialReport>,
    #[serde(skip)]
    pub identity: Option<PlatformIdentity>,
}

impl Report {
    /// Why no credential matched, as one line for the audit log.
    pub fn refusal(&self) -> String {
        if let Some(t) = &self.token {
            return t.clone();
        }
        let why: Vec<String> = self
            .credentials
            .iter()
            .filter_map(|c| c.failure().map(|f| format!("{}: {f}", c.name)))
            .collect();
        if why.is_empty() {
            "the client has no federated credential".into()
        } else {
            why.join("; ")
        }
    }
}

/// What the verification needs besides the client and the token.
pub struct Verifier<'a> {
    pub keys: &'a UpstreamKeys,
    pub conditions: &'a Conditions,
    /// tokenmint's issuer identifier as the checking endpoint sees it: the default audience.
    pub own_issuer: &'a str,
    pub now: UnixTime,
    pub leeway: u64,
}

/// The longest claim value copied by a mapping.
pub const MAX_MAPPED_CLAIM_BYTES: usize = 256;

impl Verifier<'_> {
    /// Verifies `jwt` against `client`'s credentials. `Err` only when the issuer's keys cannot
    /// be had and no cached key decides: no answer but `503` is then honest.
    pub async fn verify(&self, client: &Client, jwt: &str) -> Result<Report, FetchError> {
        let mut report = Report::default();
        let refuse = |mut r: Report, why: String| {
            r.token = Some(why);
            Ok(r)
        };
        let unverified = match verify::parse_with(jwt, |_| true) {
            Ok(u) => u,
            Err(e) => return refuse(report, format!("the token is refused: {e}")),
        };
        let Some(iss) = unverified.unverified_issuer() else {
            return refuse(report, "the token has no iss".into());
        };
        let (mine, others): (Vec<&FederatedCredential>, Vec<_>) =
            client.federated.iter().partition(|c| c.issuer == iss);
        for c in others {
            report.credentials.push(CredentialReport {
                name: c.name.clone(),
                issuer: c.issuer.clone(),
                checks: vec![Check {
                    check: "issuer",
                    ok: false,
                    detail: format!("the token's iss is {:?}", crate::audit::shown(&iss)),
                }],
                claims: vec![],
            });
        }
        if mine.is_empty() {
            return Ok(report);
        }
        let shared = self.shared_checks(unverified, &iss).await;
        let (mut common, payload) = match shared {
            Ok(v) => v,
            Err(Fatal::Fetch(e)) => return Err(e),
            Err(Fatal::Refused(checks)) => (checks, None),
        };
        common.insert(0, ok("issuer", format!("{iss} (exact)")));
        for cred in mine {
            let mut r = CredentialReport {
                name: cred.name.clone(),
                issuer: cred.issuer.clone(),
                checks: common.clone(),
                claims: vec![],
            };
            if let Some(p) = &payload {
                self.credential_checks(cred, p, &mut r);
                if r.passed() && report.identity.is_none() {
                    report.identity = Some(identity(cred, p));
                }
            }
            report.credentials.push(r);
        }
        Ok(report)
    }

    /// The checks every credential of the token's issuer shares: algorithm, signature and
    /// times. The payload, when all passed.
    async fn shared_checks(
        &self,
        unverified: verify::Unverified<'_>,
        iss: &str,
    ) -> Result<(Vec<Check>, Option<Map<String, Value>>), Fatal> {
        let mut checks = Vec::new();
        let (alg, kid) = (unverified.alg().to_owned(), unverified.kid().to_owned());
        if !ALGORITHMS.contains(&alg.as_str()) {
            checks.push(fail(
                "signature",
                format!(
                    "alg {:?} is not one of RS256, ES256, PS256",
                    crate::audit::shown(&alg)
                ),
            ));
            return Err(Fatal::Refused(checks));
        }
        let key = self
            .keys
            .issuer_key(iss, &kid)
            .await
            .map_err(Fatal::Fetch)?;
        let Some(key) = key else {
            checks.push(fail(
                "signature",
                format!(
                    "the issuer's JWKS has no key {:?}",
                    crate::audit::shown(&kid)
                ),
            ));
            return Err(Fatal::Refused(checks));
        };
        let Ok(verified) = unverified.verify(&key) else {
            checks.push(fail(
                "signature",
                format!("does not verify with key {kid:?}"),
            ));
            return Err(Fatal::Refused(checks));
        };
        checks.push(ok("signature", format!("{alg}, key {kid}")));
        let Ok(payload) = verified.into_object() else {
            checks.push(fail("expiry", "the payload is not a JSON object".into()));
            return Err(Fatal::Refused(checks));
        };
        let times = self.times(&payload);
        let passed = times.ok;
        checks.push(times);
        Ok((checks, passed.then_some(payload)))
    }

    /// `exp` is required: the token is valid until `exp` plus the leeway; `nbf`, if present,
    /// from `nbf` minus the leeway.
    fn times(&self, p: &Map<String, Value>) -> Check {
        let Some(exp) = p.get("exp").and_then(Value::as_u64) else {
            return fail("expiry", "the token has no numeric exp".into());
        };
        if self.now >= exp.saturating_add(self.leeway) {
            return fail(
                "expiry",
                format!("expired {}s ago", self.now.saturating_sub(exp)),
            );
        }
        match p.get("nbf").map(Value::as_u64) {
            Some(None) => return fail("expiry", "nbf is not a NumericDate".into()),
            Some(Some(nbf)) if nbf > self.now.saturating_add(self.leeway) => {
                return fail(
                    "expiry",
                    format!("not valid for another {}s", nbf - self.now),
                );
            }
            _ => {}
        }
        ok(
            "expiry",
            format!("valid for {}s more", exp.saturating_sub(self.now)),
        )
    }

    fn credential_checks(
        &self,
        cred: &FederatedCredential,
        p: &Map<String, Value>,
        r: &mut CredentialReport,
    ) {
        let want = cred.token_audience.as_deref().unwrap_or(self.own_issuer);
        r.checks.push(audience(p.get("aud"), want));
        let condition = match self.conditions.get(&cred.condition) {
            Ok(c) => c,
            Err(e) => {
                r.checks
                    .push(fail("condition", format!("cannot be compiled: {e}")));
                return;
            }
        };
        r.claims = condition
            .reads()
            .iter()
            .map(|n| (n.clone(), p.get(n).cloned().unwrap_or(Value::Null)))
            .collect();
        r.checks.push(match condition.evaluate(p) {
            Outcome::True => ok("condition", "true".into()),
            Outcome::NotTrue(why) => fail("condition", why),
        });
    }
}

/// Why verification stopped before the per-credential checks.
enum Fatal {
    Fetch(FetchError),
    Refused(Vec<Check>),
}

/// `aud` is the expected value, as a string or an array of exactly that one string: a token
/// meant for several parties could be replayed by any of them.
fn audience(aud: Option<&Value>, want: &str) -> Check {
    let ok_aud = match aud {
        Some(Value::String(a)) => a == want,
        Some(Value::Array(a)) => a.len() == 1 && a[0].as_str() == Some(want),
        _ => false,
    };
    if ok_aud {
        return ok("audience", want.to_owned());
    }
    let got = aud.map_or_else(
        || "none".to_owned(),
        |a| crate::audit::shown(&a.to_string()),
    );
    fail(
        "audience",
        format!("the token's aud is {got}, not {want:?} alone"),
    )
}

fn identity(cred: &FederatedCredential, p: &Map<String, Value>) -> PlatformIdentity {
    let text = |n: &str| p.get(n).and_then(Value::as_str).map(String::from);
    let mut mapped = Map::new();
    for m in &cred.claim_map {
        if crate::domain::RESERVED_NAMESPACED_CLAIMS.contains(&m.to.as_str()) {
            continue;
        }
        // An oversized value is left out rather than refusing a token the platform shaped.
        if let Some(v) = p
            .get(&m.from)
            .filter(|v| v.to_string().len() <= MAX_MAPPED_CLAIM_BYTES)
        {
            mapped.insert(m.to.clone(), v.clone());
        }
    }
    PlatformIdentity {
        credential: cred.name.clone(),
        issuer: cred.issuer.clone(),
        sub: text("sub").unwrap_or_default(),
        jti: text("jti"),
        mapped,
    }
}

fn ok(check: &'static str, detail: String) -> Check {
    Check {
        check,
        ok: true,
        detail,
    }
}

fn fail(check: &'static str, detail: String) -> Check {
    Check {
        check,
        ok: false,
        detail,
    }
}

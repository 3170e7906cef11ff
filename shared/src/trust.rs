//! Operator actions on what token exchange trusts (docs/token-exchange.md): external issuers
//! whose tokens may be exchanged, and the step-up rules of high-privilege scopes.

use crate::admin::AdminError;
use crate::clock::UnixTime;
use crate::config::Config;
use crate::domain::{
    ClaimMapping, RESERVED_NAMESPACED_CLAIMS, Scope, ScopeRule, ScopeSet, TrustedIssuer, TypRule,
};
use crate::store::{IssuerStore, ScopeRuleStore};

/// What an operator asks for when trusting an issuer.
#[derive(Debug, Clone, Default)]
pub struct NewIssuer {
    pub issuer: String,
    pub jwks_uri: String,
    pub audiences: Vec<String>,
    /// `at+jwt` (default), `JWT` or `any`.
    pub typ: Option<String>,
    /// `scope` (default) or `scp`.
    pub scope_claim: Option<String>,
    pub max_scope: Option<String>,
    /// Accept scope-less ID tokens, granted `max_scope`.
    pub id_tokens: bool,
    pub subject_prefix: Option<String>,
    /// `from=to` claim mappings.
    pub map_claims: Vec<String>,
}

/// The longest subject prefix.
pub const MAX_PREFIX_BYTES: usize = 64;

/// Trusts an issuer, replacing its earlier profile. Once two issuers are trusted, each needs a
/// subject prefix, and no prefix may begin another: the same `sub` at two providers must
/// never name one tokenmint user.
pub async fn add_issuer(
    store: &dyn IssuerStore,
    config: &Config,
    spec: NewIssuer,
    now: UnixTime,
) -> Result<TrustedIssuer, AdminError> {
    let profile = issuer_profile(config, spec, now)?;
    let others: Vec<TrustedIssuer> = store
        .list_issuers()
        .await
        .map_err(AdminError::Store)?
        .into_iter()
        .filter(|i| i.issuer != profile.issuer)
        .collect();
    check_prefixes(profile.subject_prefix.as_deref(), &others)?;
    store
        .put_issuer(&profile)
        .await
        .map_err(AdminError::Store)?;
    crate::audit!("issuer_trusted", issuer = %profile.issuer, jwks_uri = %profile.jwks_uri);
    Ok(profile)
}

/// A trusted issuer's profile from `spec`, checked on its own (not against the others:
/// [`check_prefixes`]).
pub(crate) fn issuer_profile(
    config: &Config,
    spec: NewIssuer,
    now: UnixTime,
) -> Result<TrustedIssuer, AdminError> {
    let invalid = AdminError::Invalid;
    check_issuer(config, &spec)?;
    let typ: TypRule = spec
        .typ
        .as_deref()
        .map_or(Ok(TypRule::default()), str::parse)
        .map_err(invalid)?;
    let scope_claim = spec
        .scope_claim
        .as_deref()
        .map_or(Ok(Default::default()), str::parse)
        .map_err(invalid)?;
    let max_scope = max_scope(&spec)?;
    let prefix = spec.subject_prefix.clone().filter(|p| !p.is_empty());
    if let Some(p) = &prefix {
        if p.len() > MAX_PREFIX_BYTES || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!(
                "--subject-prefix is at most {MAX_PREFIX_BYTES} bytes without spaces"
            )));
        }
    }
    let claim_map = claim_map(&spec.map_claims)?;
    Ok(TrustedIssuer {
        issuer: spec.issuer,
        jwks_uri: spec.jwks_uri,
        audiences: spec.audiences,
        typ,
        scope_claim,
        max_scope,
        id_tokens: spec.id_tokens,
        subject_prefix: prefix,
        claim_map,
        created_at: now,
    })
}

/// The issuer must be an http(s) URL that is not tokenmint's own; its JWKS URI must be one
/// tokenmint fetches from.
fn check_issuer(config: &Config, spec: &NewIssuer) -> Result<(), AdminError> {
    let invalid = AdminError::Invalid;
    let url = url::Url::parse(&spec.issuer)
        .map_err(|e| invalid(format!("issuer {:?}: {e}", spec.issuer)))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid(format!(
            "issuer {:?} is not an http(s) URL",
            spec.issuer
        )));
    }
    if config
        .issuer
        .as_ref()
        .is_some_and(|i| i.as_str() == spec.issuer)
    {
        return Err(invalid("tokenmint trusts its own tokens already".into()));
    }
    crate::upstream::check_uri(&spec.jwks_uri).map_err(|e| invalid(format!("--jwks-uri {e}")))
}

/// `--max-scope`, which `--id-tokens` needs: an ID token carries no scope of its own.
fn max_scope(spec: &NewIssuer) -> Result<Option<ScopeSet>, AdminError> {
    let invalid = AdminError::Invalid;
    let max_scope = spec
        .max_scope
        .as_deref()
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| invalid(format!("--max-scope: {e}")))?;
    if spec.id_tokens && max_scope.is_none() {
        return Err(invalid(
            "--id-tokens needs --max-scope: an ID token carries no scope, so the issuer's \
             ceiling is all it can be granted"
                .into(),
        ));
    }
    Ok(max_scope)
}

/// `--map-claim from=to` mappings; none may target a claim tokenmint issues itself.
pub(crate) fn claim_map(specs: &[String]) -> Result<Vec<ClaimMapping>, AdminError> {
    let invalid = AdminError::Invalid;
    let mut claim_map = Vec::new();
    for m in specs {
        let m = m.parse::<ClaimMapping>().map_err(invalid)?;
        if RESERVED_NAMESPACED_CLAIMS.contains(&m.to.as_str()) {
            return Err(invalid(format!(
                "--map-claim {}={}: tokenmint issues and reads the claim {:?} itself; map to \
                 another name",
                m.from, m.to, m.to
            )));
        }
        claim_map.push(m);
    }
    Ok(claim_map)
}

/// Once two issuers are trusted, each has a subject prefix and none begins another.
pub(crate) fn check_prefixes(
    prefix: Option<&str>,
    others: &[TrustedIssuer],
) -> Result<(), AdminError> {
    if others.is_empty() {
        return Ok(());
    }
    let Some(mine) = prefix else {
        return Err(AdminError::Invalid(
            "another issuer is trusted already: give this one a --subject-prefix, so the \
             same sub at two providers never names one user"
                .into(),
        ));
    };
    for o in others {
        let Some(theirs) = o.subject_prefix.as_deref() else {
            return Err(AdminError::Invalid(format!(
                "issuer {} has no subject prefix; add it again with --subject-prefix before \
                 trusting a second issuer",
                o.issuer
            )));
        };
        if mine.starts_with(theirs) || theirs.starts_with(mine) {
            return Err(AdminError::Invalid(format!(
                "subject prefix {mine:?} overlaps {theirs:?} of issuer {}",
                o.issuer
            )));
        }
    }
    Ok(())
}

/// Stops trusting an issuer: its tokens can no longer be exchanged. Tokens already issued on
/// them stay valid until they expire.
pub async fn remove_issuer(store: &dyn IssuerStore, issuer: &str) -> Result<(), AdminError> {
    if !store
        .remove_issuer(issuer)
        .await
        .map_err(AdminError::Store)?
    {
        return Err(AdminError::Invalid(format!(
            "issuer {issuer} is not trusted"
        )));
    }
    crate::audit!("issuer_removed", issuer = %issuer);
    Ok(())
}

/// Sets the `acr` values accepted for `scope`; an empty list removes the rule.
pub async fn set_scope_rule(
    store: &dyn ScopeRuleStore,
    scope: &str,
    acr: Vec<String>,
    now: UnixTime,
) -> Result<Option<ScopeRule>, AdminError> {
    if acr.is_empty() {
        let scope = Scope::new(scope).map_err(|e| AdminError::Invalid(e.to_string()))?;
        store
            .remove_scope_rule(scope.as_str())
            .await
            .map_err(AdminError::Store)?;
        crate::audit!("scope_rule_removed", scope = %scope.as_str());
        return Ok(None);
    }
    let rule = scope_rule(scope, acr, now)?;
    store
        .put_scope_rule(&rule)
        .await
        .map_err(AdminError::Store)?;
    crate::audit!("scope_rule_set", scope = %rule.scope.as_str(), acr = %rule.acr.join(" "));
    Ok(Some(rule))
}

/// A step-up rule: `scope` needs one of `acr` (at least one, each without spaces).
pub(crate) fn scope_rule(
    scope: &str,
    acr: Vec<String>,
    now: UnixTime,
) -> Result<ScopeRule, AdminError> {
    let scope = Scope::new(scope).map_err(|e| AdminError::Invalid(e.to_string()))?;
    if acr.is_empty() {
        return Err(AdminError::Invalid(
            "a step-up rule names at least one acr value".into(),
        ));
    }
    if acr.iter().any(|a| {
        a.is_empty() || a.len() > 256 || a.chars().any(|c| c.is_whitespace() || c.is_control())
    }) {
        return Err(AdminError::Invalid(
            "an acr value is 1 to 256 characters without spaces".into(),
        ));
    }
    let mut acr = acr;
    acr.sort();
    acr.dedup();
    Ok(ScopeRule {
        scope,
        acr,
        updated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn config() -> Config {
        Config::from_lookup(|k| (k == "TOKENMINT_ISSUER").then(|| "https://tm.example".into()))
            .unwrap()
    }

    fn spec(iss: &str, prefix: Option<&str>) -> NewIssuer {
        NewIssuer {
            issuer: iss.into(),
            jwks_uri: format!("{iss}/jwks"),
            subject_prefix: prefix.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn the_default_hooks_claim_is_reserved() {
        assert!(RESERVED_NAMESPACED_CLAIMS.contains(&crate::hook::in_process::USER_ID_PARAMETER));
    }

    #[tokio::test]
    async fn a_second_issuer_needs_prefixes() {
        let s = MemoryStore::new();
        let c = config();
        add_issuer(&s, &c, spec("https://a.example", None), 1)
            .await
            .unwrap();
        // Replacing the only issuer needs no prefix.
        add_issuer(&s, &c, spec("https://a.example", None), 2)
            .await
            .unwrap();
        let e = add_issuer(&s, &c, spec("https://b.example", Some("b|")), 3).await;
        assert!(matches!(e, Err(AdminError::Invalid(m)) if m.contains("https://a.example")));
        add_issuer(&s, &c, spec("https://a.example", Some("a|")), 4)
            .await
            .unwrap();
        let e = add_issuer(&s, &c, spec("https://b.example", None), 5).await;
        assert!(matches!(e, Err(AdminError::Invalid(_))));
        let e = add_issuer(&s, &c, spec("https://b.example", Some("a|b")), 5).await;
        assert!(matches!(e, Err(AdminError::Invalid(m)) if m.contains("overlaps")));
        add_issuer(&s, &c, spec("https://b.example", Some("b|")), 6)
            .await
            .unwrap();
        assert_eq!(s.list_issuers().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn refuses_bad_profiles() {
        let s = MemoryStore::new();
        let c = config();
        let cases = [
            spec("not a url", None),
            spec("https://tm.example", None),
            NewIssuer {
                jwks_uri: "http://idp.example/jwks".into(),
                ..spec("https://a.example", None)
            },
            NewIssuer {
                typ: Some("jwe".into()),
                ..spec("https://a.example", None)
            },
            NewIssuer {
                max_scope: Some("a\"b".into()),
                ..spec("https://a.example", None)
            },
            NewIssuer {
                map_claims: vec!["groups".into()],
                ..spec("https://a.example", None)
            },
            spec("https://a.example", Some("a b")),
        ];
        for bad in cases {
            assert!(
                matches!(
                    add_issuer(&s, &c, bad.clone(), 1).await,
                    Err(AdminError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn scope_rules() {
        let s = MemoryStore::new();
        let r = set_scope_rule(
            &s,
            "accounts:transact",
            vec!["b".into(), "a".into(), "a".into()],
            1,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(r.acr, ["a", "b"]);
        assert_eq!(s.list_scope_rules().await.unwrap().len(), 1);
        assert!(
            set_scope_rule(&s, "accounts:transact", vec![], 2)
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.list_scope_rules().await.unwrap().is_empty());
        assert!(
            set_scope_rule(&s, "bad scope", vec!["a".into()], 3)
                .await
                .is_err()
        );
        assert!(
            set_scope_rule(&s, "x", vec!["a b".into()], 3)
                .await
                .is_err()
        );
    }
}

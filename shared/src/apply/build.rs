//! A file's entries as the records they declare, through the same checks as the CLI flags.
//! Every error names its entry and, where one field is at fault, that field.

use crate::admin::{self, AdminError, NewClient};
use crate::clock::UnixTime;
use crate::config::{Config, parse_duration};
use crate::domain::{
    Audience, Client, ClientAttribute, ClientKeys, GrantType, ScopeRule, ScopeSet, TrustedIssuer,
};
use crate::federation::manage::{self, NewCredential};
use crate::trust::{self, NewIssuer};

use super::file::{ClientEntry, IssuerEntry, Jwks, ScopeEntry};

/// An error in `entry`'s `field`.
fn at(entry: &str, field: &str, e: impl std::fmt::Display) -> AdminError {
    AdminError::Invalid(format!("{entry}: {field}: {e}"))
}

/// The client `e` declares, with its federated credentials and without secrets.
pub fn client(config: &Config, e: &ClientEntry, now: UnixTime) -> Result<Client, AdminError> {
    let entry = format!("client {}", e.id);
    check_fields(&entry, e)?;
    let keys = match &e.jwks {
        None => None,
        Some(Jwks::Location(uri)) => Some(ClientKeys::JwksUri(uri.clone())),
        Some(Jwks::Inline(set)) => Some(ClientKeys::Jwks(set.to_string())),
    };
    if let Some(k) = &keys {
        admin::check_keys(Some(k)).map_err(|err| at(&entry, "jwks", err))?;
        if !e.federated.is_empty() {
            return Err(at(
                &entry,
                "federated",
                "a client authenticates with public keys or with federated credentials, not both",
            ));
        }
    }
    let seconds = |field: &str, v: &Option<String>| {
        v.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|err| at(&entry, field, err))
    };
    let spec = NewClient {
        id: e.id.clone(),
        scopes: e.scope.clone(),
        default_scopes: e.default_scope.clone(),
        audiences: e.audience.clone(),
        ttl: seconds("ttl", &e.ttl)?,
        introspect: e.introspect,
        hook: e.hook,
        attributes: e
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        grants: e.grants.clone(),
        max_exchange_ttl: seconds("max_exchange_ttl", &e.max_exchange_ttl)?,
        keys,
    };
    let mut client = admin::new_client(config, &spec, now)
        .map_err(|err| AdminError::Invalid(format!("{entry}: {err}")))?;
    for (i, f) in e.federated.iter().enumerate() {
        let cred = NewCredential {
            name: Some(f.name.clone()),
            issuer: f.issuer.clone(),
            condition: f.condition.clone(),
            profile: f.profile.clone(),
            token_audience: f.token_audience.clone(),
            map_claims: f.map_claims.clone(),
        };
        let checked = manage::checked(config, &client, cred, now)
            .map_err(|err| at(&entry, &format!("federated[{i}] ({})", f.name), err))?;
        client.federated.push(checked);
    }
    client.disabled = e.disabled;
    Ok(client)
}

/// The fields one parser checks on its own, so that their errors can name them; the rules
/// between fields are [`admin::new_client`]'s.
fn check_fields(entry: &str, e: &ClientEntry) -> Result<(), AdminError> {
    let scopes = ScopeSet::parse(&e.scope).map_err(|err| at(entry, "scope", err))?;
    if let Some(d) = &e.default_scope {
        ScopeSet::parse(d).map_err(|err| at(entry, "default_scope", err))?;
    }
    if e.audience.is_empty() {
        return Err(at(
            entry,
            "audience",
            "a client needs at least one audience",
        ));
    }
    for a in &e.audience {
        Audience::new(a).map_err(|err| at(entry, "audience", format!("{a:?}: {err}")))?;
    }
    for g in &e.grants {
        g.parse::<GrantType>().map_err(|()| {
            at(
                entry,
                "grants",
                format!("{g:?}: expected client_credentials, token-exchange or refresh_token"),
            )
        })?;
    }
    for (k, v) in &e.attributes {
        let a = format!("{k}={v}")
            .parse::<ClientAttribute>()
            .map_err(|err| at(entry, "attributes", err))?;
        if let Some(sc) = a.scope.filter(|sc| !scopes.contains(sc)) {
            return Err(at(
                entry,
                "attributes",
                format!("{k}: {sc:?} after the last @ is not one of the client's scopes"),
            ));
        }
    }
    Ok(())
}

/// The trusted issuer `e` declares (its subject prefix is checked against the others by the
/// plan).
pub fn issuer(
    config: &Config,
    e: &IssuerEntry,
    now: UnixTime,
) -> Result<TrustedIssuer, AdminError> {
    let spec = NewIssuer {
        issuer: e.issuer.clone(),
        jwks_uri: e.jwks_uri.clone(),
        audiences: e.audience.clone(),
        typ: e.typ.clone(),
        scope_claim: e.scope_claim.clone(),
        max_scope: e.max_scope.clone(),
        id_tokens: e.id_tokens,
        subject_prefix: e.subject_prefix.clone(),
        map_claims: e.map_claims.clone(),
    };
    trust::issuer_profile(config, spec, now)
        .map_err(|err| AdminError::Invalid(format!("issuer {}: {err}", e.issuer)))
}

/// The step-up rule `e` declares.
pub fn scope(e: &ScopeEntry, now: UnixTime) -> Result<ScopeRule, AdminError> {
    trust::scope_rule(&e.scope, e.acr.clone(), now)
        .map_err(|err| AdminError::Invalid(format!("scope {}: {err}", e.scope)))
}

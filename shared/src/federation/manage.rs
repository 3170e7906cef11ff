//! Operator actions on federated credentials: create a client that has only one, add one to a
//! client, remove one. Every credential is checked in full before anything is written.

use super::condition::Conditions;
use crate::admin::{self, AdminError, NewClient};
use crate::clock::UnixTime;
use crate::config::Config;
use crate::domain::{
    Client, FederatedCredential, FederationProfile, MAX_CREDENTIALS, valid_credential_name,
};
use crate::store::ClientStore;

/// What an operator asks for when adding a federated credential.
#[derive(Debug, Clone, Default)]
pub struct NewCredential {
    /// Defaults to the profile's name (with `-2`, `-3`… when taken).
    pub name: Option<String>,
    pub issuer: String,
    pub condition: String,
    /// `github-actions`, `gitlab-ci`, `kubernetes` or `generic`; inferred for the public
    /// GitHub and GitLab issuers, else `generic`.
    pub profile: Option<String>,
    /// The `aud` the platform's tokens carry; defaults to tokenmint's issuer identifier.
    pub token_audience: Option<String>,
    /// `from=to` mappings of platform claims into issued tokens.
    pub map_claims: Vec<String>,
}

/// The most claims one credential maps into issued tokens.
pub const MAX_MAPPINGS: usize = 8;

/// The longest token audience.
pub const MAX_TOKEN_AUDIENCE_BYTES: usize = 256;

/// Registers a client whose only authentication is one federated credential: no secret is
/// made.
pub async fn create_federated_client(
    store: &dyn ClientStore,
    config: &Config,
    spec: NewClient,
    credential: NewCredential,
    now: UnixTime,
) -> Result<Client, AdminError> {
    if spec.keys.is_some() {
        return Err(AdminError::Invalid(
            "a client authenticates with public keys or with federated credentials, not both"
                .into(),
        ));
    }
    let mut client = admin::new_client(config, &spec, now)?;
    let cred = checked(config, &client, credential, now)?;
    client.federated.push(cred.clone());
    admin::store_new(store, &client, &spec.id).await?;
    audit_added(&client, &cred);
    Ok(client)
}

/// Adds a federated credential to an existing client.
pub async fn federate(
    store: &dyn ClientStore,
    config: &Config,
    id: &str,
    credential: NewCredential,
    now: UnixTime,
) -> Result<(Client, FederatedCredential), AdminError> {
    let mut added = None;
    let client = admin::try_update(store, id, |c| {
        if c.keys.is_some() {
            return Err(AdminError::Invalid(format!(
                "client {id} authenticates with public keys (private_key_jwt); federated \
                 credentials go on a client without them"
            )));
        }
        let cred = checked(config, c, credential, now)?;
        c.federated.push(cred.clone());
        added = Some(cred);
        Ok(())
    })
    .await?;
    let cred = added.ok_or_else(|| AdminError::Invalid("no credential was added".into()))?;
    audit_added(&client, &cred);
    Ok((client, cred))
}

fn audit_added(client: &Client, cred: &FederatedCredential) {
    crate::audit!(
        "federated_credential_added",
        client_id = %client.id,
        credential = %cred.name,
        issuer = %cred.issuer,
        profile = cred.profile.as_str(),
        condition = %cred.condition,
    );
}

/// Removes the credential `name` from client `id`.
pub async fn unfederate(
    store: &dyn ClientStore,
    id: &str,
    name: &str,
) -> Result<Client, AdminError> {
    let client = admin::try_update(store, id, |c| {
        let before = c.federated.len();
        c.federated.retain(|f| f.name != name);
        if c.federated.len() == before {
            return Err(AdminError::Invalid(format!(
                "client {id} has no federated credential named {name:?}"
            )));
        }
        Ok(())
    })
    .await?;
    crate::audit!("federated_credential_removed", client_id = %client.id, credential = %name);
    Ok(client)
}

/// A credential from `spec`, checked against the configuration and the client's others.
pub(crate) fn checked(
    config: &Config,
    client: &Client,
    spec: NewCredential,
    now: UnixTime,
) -> Result<FederatedCredential, AdminError> {
    let invalid = AdminError::Invalid;
    if client.federated.len() >= MAX_CREDENTIALS {
        return Err(invalid(format!(
            "client {} has {MAX_CREDENTIALS} federated credentials, the most one client holds",
            client.id
        )));
    }
    check_issuer(config, &spec.issuer)?;
    let profile = profile(&spec)?;
    Conditions::new()
        .compile(&spec.condition)
        .and_then(|c| c.lint(profile))
        .map_err(|e| invalid(format!("--condition: {e}")))?;
    if let Some(aud) = &spec.token_audience {
        if aud.is_empty()
            || aud.len() > MAX_TOKEN_AUDIENCE_BYTES
            || aud.chars().any(char::is_control)
        {
            return Err(invalid(format!(
                "--token-audience is 1 to {MAX_TOKEN_AUDIENCE_BYTES} bytes without control \
                 characters"
            )));
        }
    }
    if spec.map_claims.len() > MAX_MAPPINGS {
        return Err(invalid(format!(
            "a credential maps at most {MAX_MAPPINGS} claims"
        )));
    }
    let claim_map = crate::trust::claim_map(&spec.map_claims)?;
    let name = name(client, spec.name.as_deref(), profile)?;
    Ok(FederatedCredential {
        name,
        issuer: spec.issuer,
        profile,
        condition: spec.condition,
        token_audience: spec.token_audience,
        claim_map,
        created_at: now,
    })
}

/// An `https` issuer (http only on loopback) that is not tokenmint itself.
fn check_issuer(config: &Config, issuer: &str) -> Result<(), AdminError> {
    let invalid = AdminError::Invalid;
    crate::upstream::check_uri(issuer).map_err(|e| invalid(format!("--issuer {e}")))?;
    if issuer.contains(['?', '#']) {
        return Err(invalid(format!(
            "--issuer {issuer:?}: an issuer has no query or fragment"
        )));
    }
    if config.issuer.as_ref().is_some_and(|i| i.as_str() == issuer) {
        return Err(invalid(
            "--issuer is tokenmint itself: a client cannot authenticate with tokenmint's own \
             tokens"
                .into(),
        ));
    }
    Ok(())
}

/// The asked-for profile, or the one inferred from the issuer. A public shared issuer keeps
/// its own profile: its guard rail cannot be opted out of.
fn profile(spec: &NewCredential) -> Result<FederationProfile, AdminError> {
    let inferred = FederationProfile::of_issuer(&spec.issuer);
    let asked = spec
        .profile
        .as_deref()
        .map(str::parse::<FederationProfile>)
        .transpose()
        .map_err(|e| AdminError::Invalid(format!("--profile: {e}")))?;
    match (asked, inferred) {
        (Some(a), Some(i)) if a != i => Err(AdminError::Invalid(format!(
            "--profile {a}: {} is the {i} issuer, whose tokens anyone can obtain; its profile is \
             {i}",
            spec.issuer
        ))),
        (Some(a), _) => Ok(a),
        (None, Some(i)) => Ok(i),
        (None, None) => Ok(FederationProfile::Generic),
    }
}

/// The given name, unused on this client; or the profile's name, numbered if taken.
fn name(
    client: &Client,
    asked: Option<&str>,
    profile: FederationProfile,
) -> Result<String, AdminError> {
    let taken = |n: &str| client.federated.iter().any(|f| f.name == n);
    if let Some(n) = asked {
        if !valid_credential_name(n) {
            return Err(AdminError::Invalid(format!(
                "--name {n:?}: a name is 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'"
            )));
        }
        if taken(n) {
            return Err(AdminError::Invalid(format!(
                "client {} already has a federated credential named {n:?}",
                client.id
            )));
        }
        return Ok(n.to_owned());
    }
    let base = profile.as_str();
    (1..=MAX_CREDENTIALS + 1)
        .map(|i| {
            if i == 1 {
                base.to_owned()
            } else {
                format!("{base}-{i}")
            }
        })
        .find(|n| !taken(n))
        .ok_or_else(|| AdminError::Invalid("no free credential name; give one with --name".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn config() -> Config {
        Config::from_lookup(|k| (k == "TOKENMINT_ISSUER").then(|| "https://tm.example".into()))
            .unwrap()
    }

    fn client_spec() -> NewClient {
        NewClient {
            id: "deploy".into(),
            scopes: "update:builds".into(),
            audiences: vec!["https://api.example.com".into()],
            ..Default::default()
        }
    }

    fn github(condition: &str) -> NewCredential {
        NewCredential {
            issuer: "https://token.actions.githubusercontent.com".into(),
            condition: condition.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_federated_client_has_no_secret_and_an_inferred_profile() {
        let s = MemoryStore::new();
        let c = create_federated_client(
            &s,
            &config(),
            client_spec(),
            github(r#"claims.repository_id == "42""#),
            1,
        )
        .await
        .unwrap();
        assert!(c.secrets.is_empty() && c.keys.is_none());
        assert_eq!(c.federated[0].profile, FederationProfile::GithubActions);
        assert_eq!(c.federated[0].name, "github-actions");
        let (c, second) = federate(
            &s,
            &config(),
            "deploy",
            github(r#"claims.repository_owner_id == "7""#),
            2,
        )
        .await
        .unwrap();
        assert_eq!(second.name, "github-actions-2");
        assert_eq!(c.federated.len(), 2);
        let c = unfederate(&s, "deploy", "github-actions").await.unwrap();
        assert_eq!(c.federated.len(), 1);
        assert!(unfederate(&s, "deploy", "github-actions").await.is_err());
    }

    #[tokio::test]
    async fn bad_credentials_are_refused_and_nothing_is_written() {
        let s = MemoryStore::new();
        let cases = [
            (
                github(r#"claims.repository == "o/r""#),
                "claims.repository_id",
            ),
            (github("claims.repository_id =="), "not valid CEL"),
            (
                NewCredential {
                    profile: Some("generic".into()),
                    ..github(r#"claims.repository == "o/r""#)
                },
                "its profile is github-actions",
            ),
            (
                NewCredential {
                    issuer: "http://ci.example".into(),
                    ..github("true")
                },
                "https",
            ),
            (
                NewCredential {
                    issuer: "https://tm.example".into(),
                    ..github("true")
                },
                "tokenmint itself",
            ),
            (
                NewCredential {
                    map_claims: vec!["sub=user_id".into()],
                    ..github(r#"claims.repository_id == "1""#)
                },
                "user_id",
            ),
            (
                NewCredential {
                    name: Some("a b".into()),
                    ..github(r#"claims.repository_id == "1""#)
                },
                "--name",
            ),
        ];
        for (bad, why) in cases {
            let e = create_federated_client(&s, &config(), client_spec(), bad, 1)
                .await
                .unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
        assert!(s.list_clients().await.unwrap().is_empty());
    }
}

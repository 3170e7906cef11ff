//! Federated client authentication at the endpoints (docs/federation.md): the platform token
//! verified against the client's credentials ([`crate::federation::verify`]). Every refusal is
//! the same `invalid_client` a wrong secret gets, so the answer tells nothing of why; the
//! audit log says which credential matched, or why none did.

use std::sync::Arc;

use super::OAuthError;
use crate::app::{App, Site};
use crate::clock::UnixTime;
use crate::domain::Client;
use crate::federation::{PlatformIdentity, Report, Verifier};

/// Authenticates `jwt` as a platform token of one of `client`'s federated credentials: the
/// client (as read last) and the platform identity. A cached client record that matches none
/// is read again (at most once a second per client, as for secrets), so a credential just
/// added works at once.
pub async fn authenticate(
    app: &App,
    site: &Site,
    client: Arc<Client>,
    cached: bool,
    jwt: &str,
    now: UnixTime,
) -> Result<(Arc<Client>, PlatformIdentity), OAuthError> {
    let mut client = client;
    let mut report = verify(app, site, &client, jwt, now).await?;
    if report.identity.is_none() && cached {
        let again = app.clients.recheck(&client.id).await?;
        if !again.cached {
            match again.client {
                Some(c) if !c.disabled => {
                    report = verify(app, site, &c, jwt, now).await?;
                    client = c;
                }
                _ => return Err(OAuthError::invalid_client()),
            }
        }
    }
    let Some(identity) = report.identity.take() else {
        crate::audit!(
            "federated_authentication_refused",
            client_id = %client.id,
            reason = %report.refusal(),
        );
        return Err(OAuthError::invalid_client());
    };
    crate::audit!(
        "client_federated",
        client_id = %client.id,
        credential = %identity.credential,
        platform_issuer = %identity.issuer,
        platform_sub = %crate::oauth::shown(&identity.sub),
        platform_jti = %identity.jti.as_deref().map(crate::oauth::shown).unwrap_or_default(),
    );
    Ok((client, identity))
}

async fn verify(
    app: &App,
    site: &Site,
    client: &Client,
    jwt: &str,
    now: UnixTime,
) -> Result<Report, OAuthError> {
    Verifier {
        keys: &app.upstream_keys,
        conditions: &app.conditions,
        own_issuer: site.issuer.as_str(),
        now,
        leeway: app.config.leeway.as_secs(),
    }
    .verify(client, jwt)
    .await
    .map_err(OAuthError::upstream)
}

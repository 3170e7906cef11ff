//! The token endpoint's hook step (docs/hook.md): for clients with the hook enabled, the
//! claims hook adds claims, may narrow the scope, and may tie the token to delegations.

use super::form::Form;
use super::{ErrorCode, OAuthError, shown};
use crate::app::{App, Site};
use crate::domain::{AccessTokenClaims, Client, Principal, ScopeSet};
use crate::hook::{self, CONTRACT_VERSION, HookClient, HookError, HookEvent, WITHHELD_PARAMETERS};

/// Runs the client's hook for a token about to be issued and applies what it approved to
/// `claims`. No token is issued unless this succeeds.
pub async fn apply(
    app: &App,
    site: &Site,
    client: &Client,
    form: &Form,
    grant_type: &str,
    subject_issuer: Option<&str>,
    claims: &mut AccessTokenClaims,
) -> Result<(), OAuthError> {
    let granted = ScopeSet::parse(&claims.scope).map_err(OAuthError::server_error)?;
    let event = event(site, client, form, grant_type, subject_issuer, claims);
    let approved = hook::call(
        app.hook.as_ref(),
        &event,
        &app.config.hook.settings,
        &granted,
    )
    .await
    .map_err(to_wire)?;
    let scope = approved.scope.clone().unwrap_or(granted);
    claims.exp = claims
        .exp
        .min(delegations_end(app, client, claims, &approved.delegations, &scope).await?);
    if approved.scope.is_some() {
        claims.scope = scope.to_string();
    }
    claims.dlg.extend(approved.delegations);
    // Claims carried from a subject token stay unless the hook sets them anew.
    claims.extra.extend(approved.claims);
    Ok(())
}

/// The event the hook receives (docs/hook.md): the client, the request's parameters but the
/// withheld ones, and the claims decided so far.
fn event(
    site: &Site,
    client: &Client,
    form: &Form,
    grant_type: &str,
    subject_issuer: Option<&str>,
    claims: &AccessTokenClaims,
) -> HookEvent {
    HookEvent {
        version: CONTRACT_VERSION,
        request_id: claims.jti.clone(),
        grant_type: grant_type.to_owned(),
        client: HookClient {
            id: client.id.to_string(),
            attributes: client.attributes.clone(),
        },
        requested_scope: form.get("scope").map(String::from),
        granted_scope: claims.scope.clone(),
        audience: claims.aud.clone(),
        parameters: form
            .pairs()
            .filter(|(k, _)| !WITHHELD_PARAMETERS.contains(k))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        claims_namespace: site.claims_namespace.clone(),
        sub: Some(claims.sub.clone()).filter(|_| subject_issuer.is_some()),
        sub_type: claims
            .chain
            .as_ref()
            .and_then(|c| c.sub_type)
            .filter(|_| subject_issuer.is_some()),
        act: claims.act.clone(),
        subject_issuer: subject_issuer.map(String::from),
    }
}

/// Checks the delegations the hook tied the token to: each must stand, name this client, and
/// cover the token's scope; a hook's word is not enough. When the first of them ends.
async fn delegations_end(
    app: &App,
    client: &Client,
    claims: &AccessTokenClaims,
    ids: &[String],
    scope: &ScopeSet,
) -> Result<u64, OAuthError> {
    let now = app.clock.now();
    let me = Principal::client(&client.id);
    let mut end = u64::MAX;
    for id in ids {
        let d = app
            .delegations
            .delegation_by_id(id)
            .await
            .map_err(OAuthError::unavailable)?;
        match d {
            Some(d) if d.is_live(now) && d.delegate == me && d.allows(scope) => {
                end = end.min(d.expires_at.unwrap_or(u64::MAX));
            }
            _ => {
                crate::audit!(
                    "hook_delegation_refused",
                    hook = app.hook.name(),
                    client_id = %client.id,
                    request_id = %claims.jti,
                    delegation = %shown(id),
                );
                return Err(OAuthError::new(
                    ErrorCode::AccessDenied,
                    format!(
                        "delegation {:?} is not live for this client and scope",
                        shown(id)
                    ),
                ));
            }
        }
    }
    Ok(end)
}

/// The OAuth answer to a hook step that issued nothing: unavailable is `503` with
/// `Retry-After` (fail closed), a denial `access_denied`, a broken answer `server_error`.
fn to_wire(e: HookError) -> OAuthError {
    match e {
        HookError::Unavailable(_) => OAuthError::unavailable(e),
        HookError::Denied(_) => OAuthError::new(ErrorCode::AccessDenied, e.to_string()),
        HookError::Malformed(_) | HookError::Violation(_) => OAuthError::server_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_errors_map_to_their_oauth_answers() {
        let code = |e: HookError| to_wire(e).code;
        let unavailable = to_wire(HookError::Unavailable("slow".into()));
        assert_eq!(unavailable.code, ErrorCode::TemporarilyUnavailable);
        assert_eq!(unavailable.status().as_u16(), 503);
        let denied = to_wire(HookError::Denied("no".into()));
        assert_eq!(denied.code, ErrorCode::AccessDenied);
        assert_eq!(denied.description, "denied by the claims hook: no");
        assert_eq!(
            code(HookError::Malformed("x".into())),
            ErrorCode::ServerError
        );
        assert_eq!(
            code(HookError::Violation("x".into())),
            ErrorCode::ServerError
        );
    }
}

//! Step-up for high-privilege scopes (docs/token-exchange.md): a scope with a rule is granted
//! on an exchange only when the subject's login has one of the rule's `acr` values. Answered,
//! when not, with `insufficient_user_authentication` and the acceptable `acr_values`, after
//! RFC 9470, so the application knows to authenticate the user again and retry.

use super::OAuthError;
use crate::app::App;
use crate::domain::ScopeSet;

/// Checks every rule that names a scope of `scope` against the subject's `acr`. `acr` values
/// have no order: only membership counts.
pub async fn check(app: &App, scope: &ScopeSet, acr: Option<&str>) -> Result<(), OAuthError> {
    let rules = app
        .scope_rules
        .list_scope_rules()
        .await
        .map_err(OAuthError::unavailable)?;
    match rules.iter().find(|r| {
        scope.contains(r.scope.as_str()) && !acr.is_some_and(|a| r.acr.iter().any(|x| x == a))
    }) {
        Some(r) => Err(OAuthError::insufficient_user_authentication(
            r.scope.as_str(),
            &r.acr,
        )),
        None => Ok(()),
    }
}

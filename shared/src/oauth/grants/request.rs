//! The token request, typed per grant: each variant holds exactly the parameters its grant
//! reads, so a grant cannot read one it does not declare. The claims hook still sees the whole
//! form (docs/hook.md `parameters`), less the withheld credentials.

use super::super::form::Form;
use super::super::{OAuthError, shown};
use super::token_types::{ACCESS_TOKEN_TYPE, JWT_TYPE};
use crate::domain::GrantType;

/// What the token asks to be for: `scope` (RFC 6749 §3.3), `resource` (RFC 8707 §2) and
/// `audience` (RFC 8693 §2.1), the last two repeatable.
#[derive(Debug, Default)]
pub struct Targets<'a> {
    pub scope: Option<&'a str>,
    pub resources: Vec<&'a str>,
    pub audiences: Vec<&'a str>,
}

impl<'a> Targets<'a> {
    fn of(form: &'a Form) -> Self {
        Self {
            scope: form.get("scope"),
            resources: form.get_all("resource").collect(),
            audiences: form.get_all("audience").collect(),
        }
    }
}

/// RFC 6749 §4.4.2: `scope`, and the targets.
#[derive(Debug)]
pub struct ClientCredentialsRequest<'a> {
    pub targets: Targets<'a>,
}

/// RFC 8693 §2.1, with `requested_subject` (as Keycloak names it) and `expires_in` (for
/// clients allowed longer exchanges). `actor_token` is refused when parsed.
#[derive(Debug)]
pub struct ExchangeRequest<'a> {
    pub subject_token: &'a str,
    pub subject_token_type: &'a str,
    /// `issued_token_type` of the answer: an access token (the default) or a JWT.
    pub issued_token_type: &'static str,
    pub requested_subject: Option<&'a str>,
    pub expires_in: Option<&'a str>,
    pub targets: Targets<'a>,
}

/// RFC 6749 §6: `refresh_token`, and `scope`, which can only narrow.
#[derive(Debug)]
pub struct RefreshRequest<'a> {
    pub refresh_token: &'a str,
    pub scope: Option<&'a str>,
}

/// A token request, one variant per grant.
#[derive(Debug)]
pub enum TokenRequest<'a> {
    ClientCredentials(ClientCredentialsRequest<'a>),
    TokenExchange(ExchangeRequest<'a>),
    RefreshToken(RefreshRequest<'a>),
}

impl<'a> TokenRequest<'a> {
    /// The parameters of `grant` from `form`; a missing required one is `invalid_request`.
    pub fn parse(grant: GrantType, form: &'a Form) -> Result<Self, OAuthError> {
        Ok(match grant {
            GrantType::ClientCredentials => Self::ClientCredentials(ClientCredentialsRequest {
                targets: Targets::of(form),
            }),
            GrantType::TokenExchange => Self::TokenExchange(exchange(form)?),
            GrantType::RefreshToken => Self::RefreshToken(RefreshRequest {
                refresh_token: required(form, "refresh_token")?,
                scope: form.get("scope"),
            }),
        })
    }
}

fn exchange(form: &Form) -> Result<ExchangeRequest<'_>, OAuthError> {
    if form.get("actor_token").is_some() || form.get("actor_token_type").is_some() {
        return Err(OAuthError::invalid_request("actor_token is not supported"));
    }
    let issued_token_type = match form.get("requested_token_type") {
        None | Some(ACCESS_TOKEN_TYPE) => ACCESS_TOKEN_TYPE,
        Some(JWT_TYPE) => JWT_TYPE,
        Some(other) => {
            return Err(OAuthError::invalid_request(format!(
                "requested_token_type {:?} is not issued; ask for an access_token or jwt",
                shown(other)
            )));
        }
    };
    Ok(ExchangeRequest {
        subject_token: required(form, "subject_token")?,
        subject_token_type: required(form, "subject_token_type")?,
        issued_token_type,
        requested_subject: form.get("requested_subject"),
        expires_in: form.get("expires_in"),
        targets: Targets::of(form),
    })
}

fn required<'a>(form: &'a Form, name: &'static str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

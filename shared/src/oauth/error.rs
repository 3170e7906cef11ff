//! OAuth 2.0 error responses: the RFC 6749 §5.2 vocabulary plus the codes later RFCs add, and the
//! one mapping from an error to the wire.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

/// Error codes, in the order of the RFCs that define them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// RFC 6749 §5.2.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed. 401.
    InvalidClient,
    /// RFC 6749 §5.2.
    InvalidGrant,
    /// RFC 6749 §5.2.
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §5.2.
    InvalidScope,
    /// RFC 6749 §4.1.2.1, used at the token endpoint for a denial by policy.
    AccessDenied,
    /// RFC 6749 §4.1.2.1: an internal fault. 500.
    ServerError,
    /// RFC 6749 §4.1.2.1: a dependency is down or overloaded. 503 with `Retry-After`.
    TemporarilyUnavailable,
    /// RFC 7009 §2.2.1.
    UnsupportedTokenType,
    /// RFC 8707 §2.
    InvalidTarget,
    /// RFC 9470 §3, answered in the token endpoint's JSON body with `acr_values`: the subject
    /// token's authentication is too weak for a requested scope; authenticate again and retry.
    InsufficientUserAuthentication,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidTarget => "invalid_target",
            Self::InsufficientUserAuthentication => "insufficient_user_authentication",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Seconds a caller is asked to wait after `temporarily_unavailable`.
pub const RETRY_AFTER_SECS: u64 = 1;

/// An error answer: a public `description`, which is sent, and a private `cause`, which is only
/// logged. Build with the constructors, then adjust with the `with_*` methods.
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Answer 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2, RFC 9110 §11.6.1).
    basic_challenge: bool,
    /// An HTTP-level status that overrides the code's own (405, 413).
    status: Option<StatusCode>,
    /// The `Allow` header of a 405.
    allow: &'static str,
    /// With `insufficient_user_authentication`: the `acr` values that would do (RFC 9470 §3).
    acr_values: Option<String>,
    /// Seconds for `Retry-After` when it is not [`RETRY_AFTER_SECS`].
    retry_after: Option<u64>,
    /// A richer audit event than the generic `request_denied` has been written for it.
    audited: bool,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            cause: None,
            basic_challenge: code == ErrorCode::InvalidClient,
            status: None,
            allow: "POST",
            acr_values: None,
            retry_after: None,
            audited: false,
        }
    }

    /// Marks the error as audited already, so the generic `request_denied` event is not
    /// written too: one event per decision.
    pub fn audited(mut self) -> Self {
        self.audited = true;
        self
    }

    pub fn is_audited(&self) -> bool {
        self.audited
    }

    /// Too many failed client authentications from one address for one client id: `429` with
    /// `Retry-After` (RFC 6585 §4), still `invalid_client` in the body, and no challenge.
    pub fn too_many_failures(retry_after: u64) -> Self {
        let mut e = Self::invalid_client().with_status(StatusCode::TOO_MANY_REQUESTS);
        e.description = "too many failed client authentications; retry later".into();
        e.retry_after = Some(retry_after);
        e
    }

    /// `insufficient_user_authentication` (RFC 9470 §3) naming the acceptable `acr` values.
    pub fn insufficient_user_authentication(scope: &str, acr_values: &[String]) -> Self {
        let mut e = Self::new(
            ErrorCode::InsufficientUserAuthentication,
            format!(
                "scope {:?} needs a stronger authentication of the user",
                super::shown(scope)
            ),
        );
        e.acr_values = Some(acr_values.join(" "));
        e
    }

    /// `405 Method Not Allowed`, naming the methods the endpoint takes.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut e = Self::invalid_request(format!("this endpoint accepts {allow} only"))
            .with_status(StatusCode::METHOD_NOT_ALLOWED);
        e.allow = allow;
        e
    }

    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }

    /// The single answer for every client-authentication failure, so that unknown clients,
    /// wrong secrets and disabled clients cannot be told apart.
    pub fn invalid_client() -> Self {
        Self::new(ErrorCode::InvalidClient, "client authentication failed")
    }

    /// A dependency failed: fail closed with 503 and keep the cause for the log.
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            "the service is temporarily unavailable; retry later",
        )
        .with_cause(cause)
    }

    /// An issuer's keys cannot be had: 503 with `Retry-After` until tokenmint tries again.
    pub fn upstream(e: crate::upstream::FetchError) -> Self {
        let secs = e.retry_after_secs();
        let mut err = Self::unavailable(e);
        err.retry_after = Some(secs);
        err
    }

    pub fn server_error(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
        .with_cause(cause)
    }

    pub fn with_cause(
        mut self,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync)> {
        self.cause.as_deref()
    }

    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(self.code.status())
    }

    /// The one mapping to the wire: status, JSON body (RFC 6749 §5.2), and headers.
    pub fn to_response(&self) -> Response<Bytes> {
        #[derive(Serialize)]
        struct Body<'a> {
            error: ErrorCode,
            error_description: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            acr_values: Option<&'a str>,
        }
        let body = serde_json::to_vec(&Body {
            error: self.code,
            error_description: &self.description,
            acr_values: self.acr_values.as_deref(),
        })
        .unwrap_or_default();
        let mut resp = super::response::json(self.status(), body);
        let headers = resp.headers_mut();
        if self.basic_challenge && self.status() == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tokenmint\", charset=\"UTF-8\""),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        } else if self.code == ErrorCode::TemporarilyUnavailable {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if self.status() == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(header::ALLOW, HeaderValue::from_static(self.allow));
        }
        resp
    }
}

impl fmt::Debug for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthError")
            .field("code", &self.code)
            .field("description", &self.description)
            .field("cause", &self.cause.as_ref().map(|c| c.to_string()))
            .finish()
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::unavailable(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(e: &OAuthError) -> (u16, String, Vec<(String, String)>) {
        let r = e.to_response();
        let mut h: Vec<_> = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        h.sort();
        (
            r.status().as_u16(),
            String::from_utf8(r.body().to_vec()).unwrap(),
            h,
        )
    }

    /// One golden answer per code: status, exact JSON and headers.
    #[test]
    fn golden_error_responses() {
        let nostore = [
            ("cache-control".to_owned(), "no-store".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("pragma".to_owned(), "no-cache".to_owned()),
        ];
        let cases = [
            (ErrorCode::InvalidRequest, 400),
            (ErrorCode::InvalidGrant, 400),
            (ErrorCode::UnauthorizedClient, 400),
            (ErrorCode::UnsupportedGrantType, 400),
            (ErrorCode::InvalidScope, 400),
            (ErrorCode::AccessDenied, 400),
            (ErrorCode::ServerError, 500),
            (ErrorCode::UnsupportedTokenType, 400),
            (ErrorCode::InvalidTarget, 400),
            (ErrorCode::InsufficientUserAuthentication, 400),
        ];
        for (code, status) in cases {
            let (s, body, headers) = wire(&OAuthError::new(code, "why"));
            assert_eq!(s, status, "{code:?}");
            assert_eq!(
                body,
                format!(
                    r#"{{"error":"{}","error_description":"why"}}"#,
                    code.as_str()
                )
            );
            assert_eq!(headers, nostore, "{code:?}");
        }
    }

    #[test]
    fn insufficient_user_authentication_names_acr_values() {
        let e = OAuthError::insufficient_user_authentication(
            "accounts:transact",
            &["urn:example:otp".into(), "urn:example:webauthn".into()],
        );
        let (s, body, _) = wire(&e);
        assert_eq!(s, 400);
        assert_eq!(
            body,
            r#"{"error":"insufficient_user_authentication","error_description":"scope \"accounts:transact\" needs a stronger authentication of the user","acr_values":"urn:example:otp urn:example:webauthn"}"#
        );
    }

    #[test]
    fn invalid_client_is_401_with_a_basic_challenge() {
        let (s, body, headers) = wire(&OAuthError::invalid_client());
        assert_eq!(s, 401);
        assert_eq!(
            body,
            r#"{"error":"invalid_client","error_description":"client authentication failed"}"#
        );
        assert!(headers.contains(&(
            "www-authenticate".into(),
            "Basic realm=\"tokenmint\", charset=\"UTF-8\"".into()
        )));
    }

    #[test]
    fn unavailable_is_503_with_retry_after_and_hides_its_cause() {
        let e = OAuthError::unavailable("dynamodb: connection reset by 10.0.0.7");
        let (s, body, headers) = wire(&e);
        assert_eq!(s, 503);
        assert_eq!(
            body,
            r#"{"error":"temporarily_unavailable","error_description":"the service is temporarily unavailable; retry later"}"#
        );
        assert!(headers.contains(&("retry-after".into(), "1".into())));
        assert!(!body.contains("10.0.0.7"));
        assert!(e.cause().is_some());
    }

    #[test]
    fn method_not_allowed_names_post() {
        let e = OAuthError::method_not_allowed("POST");
        let (s, _, headers) = wire(&e);
        assert_eq!(s, 405);
        assert!(headers.contains(&("allow".into(), "POST".into())));
    }
}

//! Reading an OAuth form request off an `http::Request`: method, content type, body size,
//! the `Authorization` header and the form itself.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};

use super::OAuthError;
use super::form::Form;

/// Largest accepted request body. Generous for the longest legitimate request (a token-exchange
/// request carrying an upstream JWT), small enough that a flood of huge bodies costs little.
pub const MAX_BODY_BYTES: usize = 32 * 1024;

/// A POSTed form and the raw `Authorization` header, if any. `Debug` never shows the header.
pub struct FormRequest {
    pub form: Form,
    pub authorization: Option<String>,
}

impl std::fmt::Debug for FormRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormRequest")
            .field("form", &self.form)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl FormRequest {
    pub fn read(req: &Request<Bytes>) -> Result<Self, OAuthError> {
        if req.method() != Method::POST {
            return Err(OAuthError::method_not_allowed("POST"));
        }
        if req.body().len() > MAX_BODY_BYTES {
            return Err(OAuthError::invalid_request(format!(
                "the request body exceeds {MAX_BODY_BYTES} bytes"
            ))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        check_content_type(req.headers())?;
        let authorization = authorization(req.headers())?;
        let form =
            Form::parse(req.body()).map_err(|e| OAuthError::invalid_request(e.to_string()))?;
        Ok(Self {
            form,
            authorization,
        })
    }
}

/// The body must be `application/x-www-form-urlencoded` (RFC 6749 §4.4.2), in UTF-8.
fn check_content_type(headers: &HeaderMap) -> Result<(), OAuthError> {
    let wrong = || {
        OAuthError::invalid_request("the content type must be application/x-www-form-urlencoded")
    };
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(wrong());
    };
    let value = value.to_str().map_err(|_| wrong())?;
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(wrong());
    }
    for param in parts {
        let (k, v) = param.split_once('=').unwrap_or((param, ""));
        if k.trim().eq_ignore_ascii_case("charset")
            && !v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        {
            return Err(OAuthError::invalid_request(
                "the request body must be UTF-8",
            ));
        }
    }
    Ok(())
}

/// At most one `Authorization` header, and no comma-joined list: API Gateway joins repeated
/// headers with commas, and a Basic credential never contains one.
fn authorization(headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let repeated = || OAuthError::invalid_request("more than one Authorization header");
    if values.next().is_some() {
        return Err(repeated());
    }
    let value = value
        .to_str()
        .map_err(|_| OAuthError::invalid_request("the Authorization header is not ASCII"))?;
    if value.contains(',') {
        return Err(repeated());
    }
    Ok(Some(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ct: Option<&str>, body: &'static [u8]) -> Request<Bytes> {
        let mut b = Request::builder().method(Method::POST).uri("/oauth2/token");
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Bytes::from_static(body)).unwrap()
    }

    #[test]
    fn content_type_variants() {
        for ok in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-URLEncoded; charset=UTF-8",
            "application/x-www-form-urlencoded;charset=\"utf-8\"",
        ] {
            assert!(FormRequest::read(&req(Some(ok), b"a=1")).is_ok(), "{ok}");
        }
        for bad in [
            None,
            Some("application/json"),
            Some("multipart/form-data"),
            Some("application/x-www-form-urlencoded; charset=iso-8859-1"),
        ] {
            let e = FormRequest::read(&req(bad, b"a=1")).unwrap_err();
            assert_eq!(e.code, super::super::ErrorCode::InvalidRequest, "{bad:?}");
        }
    }

    #[test]
    fn method_and_size() {
        let mut r = req(Some("application/x-www-form-urlencoded"), b"");
        *r.method_mut() = Method::GET;
        assert_eq!(FormRequest::read(&r).unwrap_err().status(), 405);
        let big: &'static [u8] = Box::leak(vec![b'a'; MAX_BODY_BYTES + 1].into_boxed_slice());
        let e =
            FormRequest::read(&req(Some("application/x-www-form-urlencoded"), big)).unwrap_err();
        assert_eq!(e.status(), 413);
    }

    #[test]
    fn authorization_header_rules() {
        let mut r = req(Some("application/x-www-form-urlencoded"), b"");
        r.headers_mut()
            .append(header::AUTHORIZATION, "Basic YTpi".parse().unwrap());
        assert_eq!(
            FormRequest::read(&r).unwrap().authorization.as_deref(),
            Some("Basic YTpi")
        );
        r.headers_mut()
            .append(header::AUTHORIZATION, "Basic YzpkCg==".parse().unwrap());
        assert!(FormRequest::read(&r).is_err());
        let mut r = req(Some("application/x-www-form-urlencoded"), b"");
        r.headers_mut().insert(
            header::AUTHORIZATION,
            "Basic YTpi, Basic YzpkCg==".parse().unwrap(),
        );
        assert!(FormRequest::read(&r).is_err());
    }
}

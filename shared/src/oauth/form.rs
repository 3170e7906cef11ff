//! A strict `application/x-www-form-urlencoded` parser (WHATWG URL §5, RFC 6749 appendix B).
//!
//! Unlike the lenient parsers of browsers, malformed percent-escapes and invalid UTF-8 are
//! errors rather than silently repaired, so what tokenmint checks is what the client sent.

use std::collections::HashMap;

/// Why a form body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("malformed percent-encoding in the request body")]
    BadPercentEncoding,
    #[error("the request body is not valid UTF-8 after decoding")]
    InvalidUtf8,
    #[error("parameter {0:?} is repeated (RFC 6749 §3.2)")]
    Repeated(String),
}

/// Parameters that RFC 8707 §2 and RFC 8693 §2.1 allow to appear more than once.
const MULTI_VALUED: &[&str] = &["resource", "audience"];

/// A parsed form: each name with its values, in order. `Debug` shows names only: values
/// include client secrets and tokens.
#[derive(Default, Clone)]
pub struct Form {
    params: HashMap<String, Vec<String>>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.params.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Form").field("names", &names).finish()
    }
}

impl Form {
    /// Parses a body. A parameter repeated is an error (RFC 6749 §3.2) unless it is one of the
    /// multi-valued parameters.
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut params: HashMap<String, Vec<String>> = HashMap::new();
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            // "Parameters sent without a value MUST be treated as if they were omitted from
            // the request" (RFC 6749 §3.2): they neither count nor repeat.
            if !value.is_empty() {
                params.entry(name).or_default().push(value);
            }
        }
        if let Some((name, _)) = params
            .iter()
            .find(|(n, v)| v.len() > 1 && !MULTI_VALUED.contains(&n.as_str()))
        {
            return Err(FormError::Repeated(name.clone()));
        }
        Ok(Self { params })
    }

    /// The value of a single-valued parameter (empty values were dropped while parsing).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of a multi-valued parameter.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .get(name)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Every parameter with its first value (repeats are refused at parse time, except for
    /// `resource` and `audience`).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.first()?.as_str())))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Decodes one name or value: `+` is a space, `%XX` a byte, and the result must be UTF-8.
pub fn decode(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).and_then(|&b| hex(b));
                let lo = raw.get(i + 2).and_then(|&b| hex(b));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(FormError::BadPercentEncoding),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::InvalidUtf8)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent() {
        let f =
            Form::parse(b"grant_type=client_credentials&scope=read+write&x=%41%c3%a9%2B").unwrap();
        assert_eq!(f.get("grant_type"), Some("client_credentials"));
        assert_eq!(f.get("scope"), Some("read write"));
        assert_eq!(f.get("x"), Some("Aé+"));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let f = Form::parse(b"scope=&resource=&flag").unwrap();
        assert_eq!(f.get("scope"), None);
        assert_eq!(f.get("flag"), None);
        assert_eq!(f.get_all("resource").count(), 0);
        assert!(!f.contains("scope"));
    }

    #[test]
    fn repeats_are_refused_except_for_targets() {
        assert_eq!(
            Form::parse(b"scope=a&scope=b").unwrap_err(),
            FormError::Repeated("scope".into())
        );
        // An empty repeat is an omitted parameter, not a second value.
        assert_eq!(
            Form::parse(b"scope=a&scope=").unwrap().get("scope"),
            Some("a")
        );
        let f = Form::parse(b"resource=https://a&resource=https://b&audience=x").unwrap();
        assert_eq!(
            f.get_all("resource").collect::<Vec<_>>(),
            ["https://a", "https://b"]
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [&b"a=%"[..], b"a=%4", b"a=%zz", b"a=%4g", b"%=1"] {
            assert_eq!(
                Form::parse(bad).unwrap_err(),
                FormError::BadPercentEncoding,
                "{bad:?}"
            );
        }
        assert_eq!(Form::parse(b"a=%ff").unwrap_err(), FormError::InvalidUtf8);
        assert_eq!(Form::parse(b"a=\xff").unwrap_err(), FormError::InvalidUtf8);
    }

    #[test]
    fn tolerates_stray_separators() {
        let f = Form::parse(b"&&a=1&&b=2&").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), Some("2"));
    }
}

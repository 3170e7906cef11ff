//! Random identifiers, made in one place: token ids (`jti`), refresh tokens, delegation ids.
//!
//! They come from the operating system's generator, not aws-lc's: its first use seeds a
//! jitter-entropy source, ~40 ms that a KMS-signing Lambda would otherwise pay on every cold
//! start. Without randomness no unique id can be made, so callers fail closed.

/// The system random number generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct NoRandomness;

fn random<const N: usize>() -> Result<String, NoRandomness> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| NoRandomness)?;
    Ok(crate::jwt::b64(&bytes))
}

/// A token id (`jti`, RFC 7519 §4.1.7), also a refresh-token family id: 128 random bits,
/// base64url.
pub fn token_id() -> Result<String, NoRandomness> {
    random::<16>()
}

/// A delegation id: 128 random bits, base64url.
pub fn delegation_id() -> Result<String, NoRandomness> {
    random::<16>()
}

/// A refresh token: 256 random bits, base64url (43 characters).
pub fn refresh_token() -> Result<String, NoRandomness> {
    random::<32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base64url_of_their_length_and_differ() {
        assert_eq!(token_id().unwrap().len(), 22);
        assert_eq!(delegation_id().unwrap().len(), 22);
        assert_eq!(refresh_token().unwrap().len(), 43);
        assert_ne!(token_id().unwrap(), token_id().unwrap());
    }
}

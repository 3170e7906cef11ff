//! Minting: header and claims → signing input → [`Signer`] → compact JWS (RFC 7515 §7.1).

use serde::Serialize;

use super::b64;
use crate::domain::Algorithm;
use crate::signer::{SignError, Signer};

/// The media type of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The encoded protected header of access tokens signed with one key. It depends only on the
/// key, so it is encoded once per key rather than per token.
pub fn encoded_header(alg: Algorithm, kid: &str) -> String {
    #[derive(Serialize)]
    struct Header<'a> {
        alg: &'static str,
        kid: &'a str,
        typ: &'static str,
    }
    // Serialising three strings cannot fail.
    let json = serde_json::to_vec(&Header {
        alg: alg.as_str(),
        kid,
        typ: ACCESS_TOKEN_TYP,
    })
    .unwrap_or_default();
    b64(&json)
}

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("claims could not be serialised: {0}")]
    Claims(#[from] serde_json::Error),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// Signs `claims` under `encoded_header` (from [`encoded_header`] for the same signer).
pub async fn mint<C: Serialize>(
    signer: &dyn Signer,
    encoded_header: &str,
    claims: &C,
) -> Result<String, MintError> {
    let payload = serde_json::to_vec(claims)?;
    let mut token = String::with_capacity(encoded_header.len() + payload.len() * 4 / 3 + 128);
    token.push_str(encoded_header);
    token.push('.');
    base64::Engine::encode_string(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &payload,
        &mut token,
    );
    let sig = signer.sign(token.as_bytes()).await?;
    token.push('.');
    token.push_str(&b64(&sig));
    Ok(token)
}

//! JSON Web Tokens: compact JWS serialisation (RFC 7515), keys (RFC 7517/7638), minting, and a
//! strict validator for access tokens (RFC 9068 §4).

pub mod der;
mod jwk;
pub mod mint;
pub mod verify;

pub use jwk::VerifyingKey;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding (RFC 7515 §2).
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url decoding: no padding, no stray bits, no other alphabet.
pub fn unb64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

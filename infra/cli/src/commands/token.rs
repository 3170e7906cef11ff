//! `tokenmint token decode`: a token's header and claims, and its signature checked against
//! a JWK Set.

use tokenmint::domain::Jwks;
use tokenmint::jwt::verify;

use crate::args::TokenCommand;
use crate::error::{CliError, Result};
use crate::output::print_json;

pub async fn run(cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Decode { token, jwks } => decode(&token, jwks.as_deref()).await,
    }
}

/// A token given on the command line, or `-` for standard input.
pub(super) fn read_token(token: &str) -> Result<String> {
    if token != "-" {
        return Ok(token.to_owned());
    }
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
        .map_err(CliError::io("cannot read the token from standard input"))?;
    Ok(s.trim().to_owned())
}

async fn decode(token: &str, jwks: Option<&str>) -> Result<()> {
    let token = read_token(token)?;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, _] = parts[..] else {
        return Err(CliError::message(
            "that is not a JWT: it needs three dot-separated parts",
        ));
    };
    let mut out = serde_json::json!({
        "header": segment(header, "header")?,
        "claims": segment(payload, "payload")?,
    });
    if let Some(source) = jwks {
        let set = load_jwks(source).await?;
        let unverified = verify::parse(&token)?;
        let key = set
            .keys
            .iter()
            .find(|k| k.kid == unverified.kid())
            .ok_or_else(|| {
                CliError::message(format!(
                    "the JWKS has no key with kid {:?}",
                    unverified.kid()
                ))
            })?
            .verifying_key()
            .map_err(CliError::Message)?;
        unverified
            .verify(&key)
            .map_err(|_| CliError::message("the signature does not verify"))?;
        out["signature"] = "verified".into();
    }
    print_json(&out)
}

/// One base64url JSON part of a token, called `name` in errors.
fn segment(part: &str, name: &str) -> Result<serde_json::Value> {
    let bytes = tokenmint::jwt::unb64(part)
        .ok_or_else(|| CliError::message(format!("the {name} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| CliError::message(format!("the {name} is not JSON")))
}

/// A JWK Set from an http(s) URL or a file.
async fn load_jwks(source: &str) -> Result<Jwks> {
    let body = if source.starts_with("http://") || source.starts_with("https://") {
        let resp = reqwest::get(source)
            .await
            .map_err(CliError::http(format!("cannot fetch {source}")))?;
        if !resp.status().is_success() {
            return Err(CliError::message(format!(
                "{source} answered {}",
                resp.status()
            )));
        }
        resp.bytes()
            .await
            .map_err(CliError::http(format!("cannot read {source}")))?
            .to_vec()
    } else {
        std::fs::read(source).map_err(CliError::io(format!("cannot read {source}")))?
    };
    serde_json::from_slice(&body).map_err(|e| CliError::JsonAt {
        context: format!("{source} is not a JWK Set"),
        source: e,
    })
}

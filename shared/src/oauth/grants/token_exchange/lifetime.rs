//! How long an exchanged token lives: never longer than its subject token, unless the client
//! may extend chains that act for a user, and then from the chain's first `iat`.

use super::subject::Subject;
use crate::clock::UnixTime;
use crate::domain::{Client, TokenPolicy};
use crate::oauth::OAuthError;

/// How far a client may extend a chain (its `max_exchange_ttl`): only for chains that act for
/// a user (a build job acting for the user who started it), never to stretch a client's own
/// or another client's token.
pub fn extension(client: &Client, subject: &Subject, delegated: bool) -> Option<u64> {
    client
        .max_exchange_ttl
        .filter(|_| delegated || subject.is_user())
}

/// The chain's lifetime cap and the token's `exp`. By default a derived token never outlives
/// its subject token. With an `extension` (a client's `max_exchange_ttl`, for a chain acting
/// for a user) the client may ask (`expires_in`) for up to that long from the chain's first
/// `iat`: anchored there, re-exchanging cannot reset the clock.
pub fn lifetime(
    expires_in: Option<&str>,
    subject: &Subject,
    extension: Option<u64>,
    client: &Client,
    policy: &TokenPolicy,
    service_cap: u64,
    now: UnixTime,
) -> Result<(UnixTime, UnixTime), OAuthError> {
    // The service's cap applies to clients created under a larger one, too.
    let until = match extension {
        Some(max) => root_iat(subject, now).saturating_add(max.min(service_cap)),
        None => subject.exp,
    };
    let exp = match expires_in {
        None => now
            .saturating_add(policy.ttl(client))
            .min(subject.exp)
            .min(until),
        Some(_) if extension.is_none() => {
            return Err(OAuthError::invalid_request(
                "expires_in is accepted only from clients allowed longer exchanges, for tokens \
                 that act for a user",
            ));
        }
        Some(v) => {
            let secs: u64 = v.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                OAuthError::invalid_request("expires_in must be a positive integer")
            })?;
            now.saturating_add(secs).min(until)
        }
    };
    if exp <= now {
        return Err(OAuthError::invalid_request(
            "the subject token's chain may not be extended any further",
        ));
    }
    Ok((until, exp))
}

/// When the chain began: the first token's `iat`, or now when an upstream token has none.
pub fn root_iat(subject: &Subject, now: UnixTime) -> UnixTime {
    subject
        .chain
        .as_ref()
        .map(|c| c.iat)
        .or(subject.iat)
        .unwrap_or(now)
        .min(now)
}

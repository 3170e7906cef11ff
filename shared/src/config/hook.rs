//! Hook configuration, read with the rest of [`super::Config`].
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TOKENMINT_HOOK` | `default` (in process), an https URL (webhook; http on loopback), or `lambda:FUNCTION_ARN` | `default` |
//! | `TOKENMINT_HOOK_SECRET` | the webhook's HMAC secret (at least 16 characters) | none; required for a webhook |
//! | `TOKENMINT_HOOK_TIMEOUT` | the whole hook step, retries included (at most 5 s) | `2s` |
//! | `TOKENMINT_CLAIMS_NAMESPACE` | the prefix of custom claim names | `<issuer>/claims/` |
//! | `TOKENMINT_CLAIMS_ALLOW` | short claim names allowed outside the namespace (comma-separated) | none |
//! | `TOKENMINT_CLAIMS_BUDGET` | bytes the hook's claims may take, serialized (at most 1024) | `1024` |

use std::time::Duration;

use super::error::ConfigError;
use super::parse::{comma_list, duration};
use crate::hook::HookSettings;
use crate::hook::guard::RESERVED;
use crate::hook::webhook::WebhookSecret;

/// The largest claims budget: with it, the largest token policy allows still fits KMS's
/// 4,096-byte signing limit.
pub const MAX_CLAIMS_BUDGET: usize = 1024;
/// The longest hook timeout: well inside the token function's own 10 s.
pub const MAX_HOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// Which hook clients with `hook` enabled go through.
#[derive(Debug, Clone)]
pub enum HookTarget {
    /// The default hook, in process, over the configured store.
    Default,
    /// An HTTP webhook.
    Webhook { url: String, secret: WebhookSecret },
    /// A Lambda function, invoked synchronously.
    Lambda(String),
}

/// Everything about hooks.
#[derive(Debug, Clone)]
pub struct HookConfig {
    pub target: HookTarget,
    pub settings: HookSettings,
    /// Overrides `<issuer>/claims/`.
    pub namespace: Option<String>,
}

impl HookConfig {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let err = ConfigError::new;
        let target = match get("TOKENMINT_HOOK").as_deref() {
            None | Some("default") => HookTarget::Default,
            Some(v) if v.starts_with("lambda:") && v.len() > "lambda:".len() => {
                HookTarget::Lambda(v.trim_start_matches("lambda:").to_owned())
            }
            Some(v) if v.starts_with("https://") || v.starts_with("http://") => {
                let secret = get("TOKENMINT_HOOK_SECRET").ok_or_else(|| {
                    err("TOKENMINT_HOOK names a webhook: set TOKENMINT_HOOK_SECRET too".into())
                })?;
                let secret = WebhookSecret::new(&secret)
                    .map_err(|e| err(format!("TOKENMINT_HOOK_SECRET: {e}")))?;
                HookTarget::Webhook {
                    url: v.to_owned(),
                    secret,
                }
            }
            Some(v) => {
                return Err(err(format!(
                    "TOKENMINT_HOOK {v:?} is not understood; use default, an https URL or \
                     lambda:FUNCTION_ARN"
                )));
            }
        };
        let timeout = match get("TOKENMINT_HOOK_TIMEOUT") {
            None => Duration::from_secs(2),
            Some(v) => duration(&v)
                .map_err(|e| ConfigError::caused(format!("TOKENMINT_HOOK_TIMEOUT: {e}"), e))?,
        };
        if timeout.is_zero() || timeout > MAX_HOOK_TIMEOUT {
            return Err(err(
                "TOKENMINT_HOOK_TIMEOUT must be more than 0 and at most 5s".into(),
            ));
        }
        let budget = match get("TOKENMINT_CLAIMS_BUDGET") {
            None => MAX_CLAIMS_BUDGET,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|b| (2..=MAX_CLAIMS_BUDGET).contains(b))
                .ok_or_else(|| {
                    err(format!(
                        "TOKENMINT_CLAIMS_BUDGET must be a byte count from 2 to \
                         {MAX_CLAIMS_BUDGET}"
                    ))
                })?,
        };
        let allowed = get("TOKENMINT_CLAIMS_ALLOW")
            .map(|v| comma_list(&v))
            .unwrap_or_default();
        if let Some(r) = allowed.iter().find(|a| RESERVED.contains(&a.as_str())) {
            return Err(err(format!(
                "TOKENMINT_CLAIMS_ALLOW names {r:?}, a reserved claim"
            )));
        }
        Ok(Self {
            target,
            settings: HookSettings {
                timeout,
                allowed,
                budget,
            },
            namespace: get("TOKENMINT_CLAIMS_NAMESPACE")
                .map(|ns| valid_namespace(&ns).map(|()| ns))
                .transpose()?,
        })
    }
}

/// A claims namespace is an absolute URI or URN ending in `/` or `:`, so that no name outside
/// it can share its prefix (`https://iss.example.com` would also admit
/// `https://iss.example.com.evil/x`).
fn valid_namespace(ns: &str) -> Result<(), ConfigError> {
    let absolute = url::Url::parse(ns).is_ok_and(|u| u.scheme().len() > 1);
    if absolute && (ns.ends_with('/') || ns.ends_with(':')) {
        return Ok(());
    }
    Err(ConfigError::new(format!(
        "TOKENMINT_CLAIMS_NAMESPACE {ns:?} must be an absolute URI or URN ending in / or :"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<HookConfig, ConfigError> {
        HookConfig::from_lookup(&|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn hook_settings() {
        let d = from(&[]).unwrap();
        assert!(matches!(d.target, HookTarget::Default));
        assert_eq!(d.settings.timeout, Duration::from_secs(2));
        assert_eq!(d.settings.budget, 1024);
        let w = from(&[
            ("TOKENMINT_HOOK", "https://hooks.example.com/t"),
            ("TOKENMINT_HOOK_SECRET", "0123456789abcdef"),
            ("TOKENMINT_HOOK_TIMEOUT", "500ms"),
        ])
        .unwrap();
        assert!(matches!(w.target, HookTarget::Webhook { .. }));
        assert_eq!(w.settings.timeout, Duration::from_millis(500));
        let l = from(&[(
            "TOKENMINT_HOOK",
            "lambda:arn:aws:lambda:eu-west-1:1:function:h",
        )])
        .unwrap();
        assert!(matches!(l.target, HookTarget::Lambda(ref a) if a.ends_with(":h")));
        let err = |p: &[(&str, &str)]| from(p).unwrap_err().to_string();
        assert!(err(&[("TOKENMINT_HOOK", "https://h.example")]).contains("SECRET"));
        assert!(err(&[("TOKENMINT_HOOK", "ftp://h")]).contains("not understood"));
        assert!(err(&[("TOKENMINT_HOOK_TIMEOUT", "10s")]).contains("at most 5s"));
        assert!(err(&[("TOKENMINT_CLAIMS_BUDGET", "4096")]).contains("1024"));
        assert!(err(&[("TOKENMINT_CLAIMS_ALLOW", "tenant,sub")]).contains("reserved"));
        assert!(err(&[("TOKENMINT_CLAIMS_ALLOW", "active")]).contains("reserved"));
        for bad in ["https://iss.example.com", "a", "claims/"] {
            assert!(
                err(&[("TOKENMINT_CLAIMS_NAMESPACE", bad)]).contains("absolute"),
                "{bad}"
            );
        }
        for good in ["https://iss.example.com/claims/", "urn:example:claims:"] {
            assert!(
                from(&[("TOKENMINT_CLAIMS_NAMESPACE", good)]).is_ok(),
                "{good}"
            );
        }
        assert!(err(&[("TOKENMINT_HOOK", "lambda:")]).contains("not understood"));
    }

    /// A bare number is seconds, as for every other duration setting.
    #[test]
    fn hook_timeouts_in_bare_seconds() {
        let t = from(&[("TOKENMINT_HOOK_TIMEOUT", "3")]).unwrap();
        assert_eq!(t.settings.timeout, Duration::from_secs(3));
        let e = from(&[("TOKENMINT_HOOK_TIMEOUT", "90")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 5s"), "{e}");
    }
}

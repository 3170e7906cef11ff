//! The rules a Lambda function adds to the configuration: state in DynamoDB, the claims hook
//! a function or the default.

use super::hook::HookTarget;
use super::{Config, ConfigError, StoreConfig};

impl Config {
    /// A Lambda function keeps its state in DynamoDB only. A SQLite file in a Lambda container
    /// is private to that container and lost with it, so clients, keys and revocations would
    /// neither be shared nor kept; the function refuses to start rather than lose them.
    /// (Leaving SQLite unreferenced also keeps it out of the function artefacts.)
    pub fn check_lambda_store(&self) -> Result<(), ConfigError> {
        match self.store {
            StoreConfig::DynamoDb(_) => Ok(()),
            StoreConfig::Sqlite(_) => Err(ConfigError::new(
                "a Lambda function keeps its state in DynamoDB (TOKENMINT_STORE=dynamodb:TABLE): \
                 a SQLite file would be private to one container and lost with it",
            )),
        }
    }

    /// On Lambda the claims hook is the default or another function. A webhook is refused:
    /// call it from a hook function, whose own timeout and concurrency bound it. (The token
    /// function still has an HTTP client, for the JWKS of trusted issuers.)
    pub fn check_lambda_hook(&self) -> Result<(), ConfigError> {
        match self.hook.target {
            HookTarget::Webhook { .. } => Err(ConfigError::new(
                "on Lambda the claims hook is a function (TOKENMINT_HOOK=lambda:ARN) or the \
                 default; a webhook can be called from a hook function",
            )),
            HookTarget::Default | HookTarget::Lambda(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_lookup(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    #[test]
    fn endpoints_and_the_metrics_namespace_are_checked() {
        let c = config(&[]);
        assert!(!c.all_endpoints);
        assert_eq!(c.metrics_namespace, "tokenmint");
        let c = config(&[
            ("TOKENMINT_ENDPOINTS", "all"),
            ("TOKENMINT_METRICS_NAMESPACE", "prod/tokenmint"),
        ]);
        assert!(c.all_endpoints);
        assert_eq!(c.metrics_namespace, "prod/tokenmint");
        let refused = |k: &str, v: &str| {
            Config::from_lookup(|n| (n == k).then(|| v.to_owned()))
                .unwrap_err()
                .to_string()
        };
        assert!(refused("TOKENMINT_ENDPOINTS", "token").contains("use all"));
        for ns in ["AWS/Lambda", "a:b", &"n".repeat(256)] {
            let e = refused("TOKENMINT_METRICS_NAMESPACE", ns);
            assert!(e.contains("not a CloudWatch namespace"), "{e}");
        }
    }

    #[test]
    fn a_function_refuses_sqlite_and_webhooks() {
        let e = config(&[]).check_lambda_store().unwrap_err().to_string();
        assert!(e.contains("keeps its state in DynamoDB"), "{e}");
        let dynamo = [
            ("TOKENMINT_STORE", "dynamodb:tokens"),
            ("TOKENMINT_SIGNER", "kms:k"),
        ];
        assert!(config(&dynamo).check_lambda_store().is_ok());
        assert!(config(&dynamo).check_lambda_hook().is_ok());
        let hooked = config(&[
            ("TOKENMINT_HOOK", "https://hooks.example.com/h"),
            ("TOKENMINT_HOOK_SECRET", "0123456789abcdef"),
        ]);
        let e = hooked.check_lambda_hook().unwrap_err().to_string();
        assert!(
            e.contains("a webhook can be called from a hook function"),
            "{e}"
        );
    }
}

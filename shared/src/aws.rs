//! The AWS SDK configuration every AWS adapter (DynamoDB, KMS, Lambda) is built from, loaded
//! once per [`crate::Config`] (so once per process) on first use and shared by every adapter.

/// The AWS SDK configuration of one [`crate::Config`], loaded on first use. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct Sdk {
    #[cfg(feature = "aws")]
    loaded: std::sync::Arc<tokio::sync::OnceCell<aws_config::SdkConfig>>,
}

#[cfg(feature = "aws")]
impl Sdk {
    /// The configuration, loaded ([`sdk_config`]) by the first caller.
    pub async fn config(&self) -> &aws_config::SdkConfig {
        self.loaded.get_or_init(sdk_config).await
    }
}

/// The AWS SDK configuration: the standard environment (region, credentials,
/// `AWS_ENDPOINT_URL`), the SDK's standard retry mode (3 attempts, exponential backoff with
/// jitter) and timeouts short enough that a request fails closed well inside a Lambda's time.
#[cfg(feature = "aws")]
pub async fn sdk_config() -> aws_config::SdkConfig {
    use std::time::Duration;

    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;

    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(1))
                .operation_timeout(Duration::from_secs(3))
                .build(),
        )
        .load()
        .await
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_configuration_is_loaded_once_and_shared_by_clones() {
        let sdk = Sdk::default();
        let clone = sdk.clone();
        assert!(std::ptr::eq(sdk.config().await, clone.config().await));
        assert!(std::ptr::eq(sdk.config().await, sdk.config().await));
    }
}

//! The AWS SDK configuration every AWS adapter (DynamoDB, KMS, Lambda) is built from.

/// The AWS SDK configuration: the standard environment (region, credentials,
/// `AWS_ENDPOINT_URL`), the SDK's standard retry mode (3 attempts, exponential backoff with
/// jitter) and timeouts short enough that a request fails closed well inside a Lambda's time.
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

//! Delivery of `/execute/async` results. The client resolves names with hickory (no `getaddrinfo`,
//! which a static glibc binary cannot use) and trusts the bundled webpki roots, so it works from a
//! `scratch` image. Signature: `X-HOPX-Signature: sha256=<hex HMAC-SHA256(secret, "{ts}.{body}")>`.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use api_types::agent::WebhookPayload;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const ATTEMPTS: u32 = 3;

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .hickory_dns(true)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default()
    })
}

/// `sha256=<hex>` of `"{timestamp}.{body}"` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `payload` to `url`, retrying network errors and 5xx answers with a short backoff.
pub async fn deliver(
    url: reqwest::Url,
    headers: &BTreeMap<String, String>,
    secret: Option<&str>,
    payload: &WebhookPayload,
) {
    let body = match serde_json::to_vec(payload) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "webhook payload encoding failed");
            return;
        }
    };
    for attempt in 1..=ATTEMPTS {
        let ts = crate::util::unix_now();
        let mut req = client()
            .post(url.clone())
            .header("content-type", "application/json")
            .header("x-hopx-timestamp", ts.to_string());
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(secret) = secret {
            req = req.header("x-hopx-signature", signature(secret, ts, &body));
        }
        match req.body(body.clone()).send().await {
            Ok(res) if !res.status().is_server_error() => {
                tracing::info!(status = res.status().as_u16(), "webhook delivered");
                return;
            }
            Ok(res) => tracing::warn!(status = res.status().as_u16(), attempt, "webhook refused"),
            Err(e) => tracing::warn!(error = %e, attempt, "webhook delivery failed"),
        }
        tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_covers_timestamp_and_body() {
        let a = super::signature("k", 1, b"{}");
        assert!(a.starts_with("sha256="));
        assert_eq!(a.len(), 7 + 64);
        assert_ne!(a, super::signature("k", 2, b"{}"));
        assert_ne!(a, super::signature("k", 1, b"[]"));
    }
}

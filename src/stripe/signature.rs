//! The `Stripe-Signature` header: parse, verify, and sign (for samples and tests).
//!
//! Stripe signs `"{t}.{raw_body}"` with HMAC-SHA256, keyed by the endpoint's
//! signing secret (`whsec_…`, the whole string is the key), and sends
//! `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`. While a secret is being
//! rotated there is one `v1` per active secret. Other schemes (`v0`, test
//! mode's fake one) are ignored: accepting them would allow a downgrade.
//! See `../shared/PLATFORMS.md` §A.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// The only scheme we verify.
pub const SCHEME: &str = "v1";

/// A longer header is refused without parsing: Stripe's are ~150 bytes even during rotation.
pub const MAX_HEADER_BYTES: usize = 4096;

/// At most this many `v1` values are compared, bounding work per request.
pub const MAX_SIGNATURES: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The signed Unix timestamp `t`.
    pub timestamp: i64,
    /// Every `v1` signature, decoded from hex.
    pub signatures: Vec<[u8; 32]>,
}

/// Why a request's signature was refused. The messages go back to the sender
/// as the 400 body, so they say what is wrong and never echo a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    #[error("missing Stripe-Signature header")]
    Missing,
    /// The header could not be parsed.
    #[error("malformed Stripe-Signature header: {0}")]
    Malformed(&'static str),
    /// No `v1` matched any configured secret.
    #[error(
        "no signature matches a configured webhook secret (is the signing secret right for this endpoint?)"
    )]
    Mismatch,
    /// The timestamp is outside the tolerance.
    #[error(
        "timestamp outside the tolerance of {tolerance_secs} s (request is {age_secs} s old); replayed or the clock is off"
    )]
    Stale {
        /// How old the timestamp is; negative when it lies in the future.
        age_secs: i64,
        /// The configured tolerance.
        tolerance_secs: u64,
    },
}

impl SignatureError {
    /// A short stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Missing => "missing_signature",
            Self::Malformed(_) => "malformed_signature",
            Self::Mismatch => "signature_mismatch",
            Self::Stale { .. } => "stale_timestamp",
        }
    }
}

/// Parses a `Stripe-Signature` header value.
///
/// Items are separated by `,`, each is `key=value`. Exactly one `t` is
/// required; `v1` values must be 64 hex digits. Unknown schemes are skipped.
pub fn parse_header(header: &str) -> Result<SignatureHeader, SignatureError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::Malformed("header is too long"));
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.split_once('=') else {
            return Err(SignatureError::Malformed("every item must be key=value"));
        };
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed("more than one timestamp"));
                }
                let value = value.trim();
                if value.is_empty()
                    || value.len() > 12
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(SignatureError::Malformed("timestamp is not a Unix time"));
                }
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed("timestamp is not a Unix time"))?,
                );
            }
            SCHEME => {
                let mut signature = [0u8; 32];
                hex::decode_to_slice(value.trim(), &mut signature)
                    .map_err(|_| SignatureError::Malformed("v1 is not 64 hex digits"))?;
                if signatures.len() == MAX_SIGNATURES {
                    return Err(SignatureError::Malformed("too many v1 signatures"));
                }
                signatures.push(signature);
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no timestamp (t=)"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no v1 signature"));
    }
    Ok(SignatureHeader {
        timestamp,
        signatures,
    })
}

/// HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`.
pub fn compute_signature(secret: &Secret, timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Verifies a request as Stripe's SDKs do, at the given time `now` (Unix seconds).
///
/// ```
/// use std::time::Duration;
/// use stripe_chatops::secret::Secret;
/// use stripe_chatops::stripe::signature::{SignatureError, sign, verify};
///
/// let secret = Secret::new("whsec_doc_example");
/// let body = br#"{"id":"evt_1","object":"event"}"#;
/// let header = sign(body, &[&secret], 1_763_251_200);
/// let five_minutes = Duration::from_secs(300);
/// assert_eq!(verify(Some(&header), body, &[secret.clone()], five_minutes, 1_763_251_260), Ok(1_763_251_200));
/// assert_eq!(
///     verify(Some(&header), b"{}", &[secret], five_minutes, 1_763_251_260),
///     Err(SignatureError::Mismatch)
/// );
/// ```
///
/// Accepts when any `v1` matches any secret, compared in constant time, and
/// the timestamp lies within `tolerance` of `now`, in either direction: Stripe
/// signs with its current time, so a timestamp far ahead of ours means our
/// clock or the request is wrong. Returns the signed timestamp.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Secret],
    tolerance: Duration,
    now: i64,
) -> Result<i64, SignatureError> {
    let header = parse_header(header.ok_or(SignatureError::Missing)?)?;
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        let expected = compute_signature(secret, header.timestamp, body);
        for candidate in &header.signatures {
            matched |= expected.ct_eq(candidate);
        }
    }
    if !bool::from(matched) {
        return Err(SignatureError::Mismatch);
    }
    // The age is checked after the signature so that a forged request learns nothing about timing.
    let age = now.saturating_sub(header.timestamp);
    let tolerance_secs = tolerance.as_secs();
    if age.unsigned_abs() > tolerance_secs {
        return Err(SignatureError::Stale {
            age_secs: age,
            tolerance_secs,
        });
    }
    Ok(header.timestamp)
}

/// Builds a `Stripe-Signature` header value exactly as Stripe does, for one or more secrets.
pub fn sign(body: &[u8], secrets: &[&Secret], timestamp: i64) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&hex::encode(compute_signature(secret, timestamp, body)));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s)
    }

    #[test]
    fn parses_several_signatures_and_skips_other_schemes() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let header = parse_header(&format!("t=1700000000,v1={a},v0={b},v1={b}")).unwrap();
        assert_eq!(header.timestamp, 1_700_000_000);
        assert_eq!(header.signatures, vec![[0xaa; 32], [0xbb; 32]]);
    }

    #[test]
    fn refuses_malformed_headers_with_a_reason() {
        let sig = "a".repeat(64);
        let cases = [
            ("", "every item must be key=value"),
            ("t=1", "no v1 signature"),
            (&format!("v1={sig}") as &str, "no timestamp (t=)"),
            (&format!("t=abc,v1={sig}"), "timestamp is not a Unix time"),
            (&format!("t=-5,v1={sig}"), "timestamp is not a Unix time"),
            (&format!("t=1,t=2,v1={sig}"), "more than one timestamp"),
            ("t=1,v1=zz", "v1 is not 64 hex digits"),
            ("t=1,v1=abcd", "v1 is not 64 hex digits"),
            (
                &format!("t=1,v1={sig},garbage"),
                "every item must be key=value",
            ),
        ];
        for (header, reason) in cases {
            assert_eq!(
                parse_header(header),
                Err(SignatureError::Malformed(reason)),
                "{header}"
            );
        }
    }

    #[test]
    fn signs_and_verifies_round_trip_with_rotation() {
        let old = secret("whsec_old_0000");
        let new = secret("whsec_new_1111");
        let body = br#"{"id":"evt_1","object":"event"}"#;
        let header = sign(body, &[&old, &new], 1000);
        let tolerance = Duration::from_secs(300);
        assert_eq!(
            verify(
                Some(&header),
                body,
                std::slice::from_ref(&new),
                tolerance,
                1000
            ),
            Ok(1000)
        );
        assert_eq!(
            verify(
                Some(&header),
                body,
                std::slice::from_ref(&old),
                tolerance,
                1000
            ),
            Ok(1000)
        );
        let other = secret("whsec_other_22");
        assert_eq!(
            verify(Some(&header), body, &[other], tolerance, 1000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tolerance_edges() {
        let key = secret("whsec_edge_0000");
        let header = sign(b"{}", &[&key], 10_000);
        let tolerance = Duration::from_secs(300);
        let at = |now| {
            verify(
                Some(&header),
                b"{}",
                std::slice::from_ref(&key),
                tolerance,
                now,
            )
        };
        assert_eq!(at(10_300), Ok(10_000));
        assert_eq!(at(9_700), Ok(10_000));
        assert_eq!(
            at(10_301),
            Err(SignatureError::Stale {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert_eq!(
            at(9_699),
            Err(SignatureError::Stale {
                age_secs: -301,
                tolerance_secs: 300
            })
        );
    }

    #[test]
    fn a_forged_stale_request_reports_the_mismatch_not_the_age() {
        let key = secret("whsec_edge_0000");
        let header = format!("t=1,v1={}", "0".repeat(64));
        assert_eq!(
            verify(
                Some(&header),
                b"{}",
                &[key],
                Duration::from_secs(300),
                1_000_000
            ),
            Err(SignatureError::Mismatch)
        );
    }
}

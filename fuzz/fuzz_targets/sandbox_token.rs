//! The sandbox credential verifiers (agent token, preview token, key push) with a key ring in its
//! grace period: never panic, and a credential verifies only when it is exactly what one of the
//! ring's keys signs for its claims (no second spelling of a valid credential).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox_token::{
    DEFAULT_MAX_LIFETIME_SECONDS as MAX, KeyRing, PreviewTarget, TokenKey, from_authorization,
    is_sandbox_credential,
};

const NOW: i64 = 1_800_000_000;

fuzz_target!(|input: &str| {
    let current = TokenKey::from_bytes(&[7u8; 32]).expect("32 bytes");
    let previous = TokenKey::from_bytes(&[9u8; 32]).expect("32 bytes");
    let pushed = TokenKey::from_bytes(&[3u8; 32]).expect("32 bytes");
    let ring = KeyRing::new(current.clone()).with_previous(previous.clone(), NOW + 60);
    let keys = [&current, &previous];

    let token = from_authorization(input).unwrap_or(input);
    let _ = is_sandbox_credential(token);
    let fields: Vec<&str> = token.split('.').collect();
    let id = fields.get(1).copied().unwrap_or_default();

    if let Ok(claims) = ring.verify(token, id, NOW, MAX) {
        assert!(claims.expires_at > NOW && claims.expires_at - NOW <= MAX);
        assert!(
            keys.iter()
                .any(|k| k.sign(&claims.sandbox_id, claims.expires_at) == token),
            "{input:?}"
        );
    }
    let port = fields.get(2).and_then(|p| p.parse().ok()).unwrap_or(1);
    let epoch = fields.get(3).and_then(|e| e.parse().ok()).unwrap_or(0);
    let target = PreviewTarget {
        sandbox_id: id,
        port: if port == 0 { 1 } else { port },
        epoch,
    };
    if let Ok(claims) = ring.verify_preview(token, target, NOW, MAX) {
        assert!(claims.port.is_none_or(|p| p == target.port) && claims.epoch == epoch);
        assert!(
            keys.iter().any(|k| k.sign_preview(&claims) == token),
            "{input:?}"
        );
    }
    if let Ok(signer) = ring.verify_key_push(token, id, NOW, &pushed) {
        let exp = fields[2].parse().expect("verified expiry");
        assert_eq!(signer.sign_key_push(id, exp, &pushed), token, "{input:?}");
    }

    // The issuer's round trip: what the current key signs for a valid claim verifies, under both
    // the current key and (during the grace period) the previous one.
    if !id.is_empty() && !id.contains(['.', '\0']) {
        for key in keys {
            let signed = key.sign(id, NOW + 3600);
            assert_eq!(
                ring.verify(&signed, id, NOW, MAX).map(|c| c.expires_at),
                Ok(NOW + 3600)
            );
        }
    }
    let _ = TokenKey::from_hex(input);
});

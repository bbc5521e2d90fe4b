//! What a forged Standard Webhooks request with `v1a` (ed25519) entries costs, as a ratio to one
//! HMAC (the refusal of a forged `v1` request under one secret), measured interleaved so that a
//! slow stretch of a shared machine hits every side alike.
//!
//! Each forged entry is a well-formed signature by a key the verifier does not hold, so that
//! every check runs its SHA-512 pass over the signed content. Timed, per body size:
//! - `hmac`: the verifier refusing a forged `v1` entry (one secret);
//! - `cap 8, k keys`: the work the verifier did before the `v1a` cap, eight distinct entries
//!   under each of `k` public keys, one `verify_stream` pass each (the old loop, written out
//!   here, since the verifier now refuses the request on its headers);
//! - `cap 2, k keys`: the verifier refusing a request with two distinct forged entries;
//! - `8 refused`: the verifier refusing eight distinct entries as a malformed header.
//!
//! Printed: the median round's µs per request and its median ratio to `hmac`.
//!
//! Run: `cargo bench --bench forged_v1a --all-features` (under a minute).
#![allow(clippy::unwrap_used)] // set-up that cannot fail

use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use verihook::testing::StandardSigner;
use verihook::{providers::standard::StandardVerifier, RequestHead, WebhookRequest};

const ROUNDS: usize = 101;
const HMAC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ATTACKER: &str = "whsk_QVRUQUNLRVJTSUdOSU5HS0VZTk9UU0VDUkVUQVRBTEw=";
const RECEIVER_KEYS: [&str; 2] = [
    "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
    "whsk_U0VDT05EUFVCTElDS0VZRk9SVEhFQkVOQ0hNQVJLISE=",
];
const ID: &str = "msg_forged";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `entries` distinct `v1a` entries by the attacker's key over `body`.
fn forged_entries(entries: usize, timestamp: u64, body: &[u8]) -> Vec<String> {
    let attacker = StandardSigner::new(ATTACKER).unwrap();
    (0..entries)
        .map(|i| {
            // Signed over other ids, so each entry differs; none verifies for `ID`.
            let headers = attacker.sign(&format!("{ID}{i}"), timestamp, body).unwrap();
            headers["webhook-signature"].to_str().unwrap().to_owned()
        })
        .collect()
}

fn headers(timestamp: u64, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", HeaderValue::from_static(ID));
    headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
    headers.insert(
        "webhook-signature",
        HeaderValue::from_str(signature).unwrap(),
    );
    headers
}

/// The pre-cap loop over already decoded entries: every entry under every key, one streamed
/// ed25519 check (a SHA-512 pass over id, timestamp and body) each.
fn old_loop(
    keys: &[ed25519_dalek::VerifyingKey],
    signatures: &[ed25519_dalek::Signature],
    parts: &[&[u8]],
) -> bool {
    keys.iter().any(|key| {
        signatures.iter().any(|sig| {
            key.verify_stream(sig).is_ok_and(|mut stream| {
                for part in parts {
                    stream.update(part);
                }
                stream.finalize_and_verify().is_ok()
            })
        })
    })
}

fn public_key(seed: &str) -> ed25519_dalek::VerifyingKey {
    use base64::Engine as _;
    let public = StandardSigner::new(seed).unwrap().public_key().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(public.trim_start_matches("whpk_"))
        .unwrap();
    ed25519_dalek::VerifyingKey::from_bytes(&bytes.try_into().unwrap()).unwrap()
}

fn signature(entry: &str) -> ed25519_dalek::Signature {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(entry.trim_start_matches("v1a,"))
        .unwrap();
    ed25519_dalek::Signature::from_bytes(&bytes.try_into().unwrap())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let timestamp = now();
    let uri = Uri::from_static("/webhooks/standard");
    let public: Vec<String> = RECEIVER_KEYS
        .iter()
        .map(|seed| StandardSigner::new(seed).unwrap().public_key().unwrap())
        .collect();
    let one_key = StandardVerifier::new(&public[0]).unwrap();
    let two_keys = StandardVerifier::with_secrets(public.iter().map(String::as_str)).unwrap();
    let hmac = StandardVerifier::new(HMAC_SECRET).unwrap();
    let keys = [public_key(RECEIVER_KEYS[0]), public_key(RECEIVER_KEYS[1])];
    println!("| body | hmac (µs) | cap 8, 1 key | cap 8, 2 keys | cap 2, 1 key | cap 2, 2 keys | 8 refused |");
    println!("|---|---|---|---|---|---|---|");
    for size in [1024, 1024 * 1024] {
        let body = Bytes::from(vec![b'x'; size]);
        let forged = forged_entries(8, timestamp, &body);
        let v1 = headers(timestamp, "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=");
        let two = headers(timestamp, &forged[..2].join(" "));
        let eight = headers(timestamp, &forged.join(" "));
        let signatures: Vec<_> = forged.iter().map(|e| signature(e)).collect();
        let digits = timestamp.to_string();
        let parts: [&[u8]; 5] = [ID.as_bytes(), b".", digits.as_bytes(), b".", &body];
        let refuse = |scheme: &StandardVerifier, headers: &HeaderMap| {
            let head = RequestHead::new(&Method::POST, &uri, headers);
            let request = WebhookRequest::new(head, &body);
            black_box(scheme.verify_at(&request, SystemTime::now())).unwrap_err();
        };
        type Side<'a> = Box<dyn Fn() + 'a>;
        let sides: [Side<'_>; 6] = [
            Box::new(|| refuse(&hmac, &v1)),
            Box::new(|| assert!(!old_loop(&keys[..1], &signatures, &parts))),
            Box::new(|| assert!(!old_loop(&keys, &signatures, &parts))),
            Box::new(|| refuse(&one_key, &two)),
            Box::new(|| refuse(&two_keys, &two)),
            Box::new(|| refuse(&two_keys, &eight)),
        ];
        let iterations = if size > 4096 { 2 } else { 200 };
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
        let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
        for round in 0..ROUNDS {
            let mut spent = [0.0; 6];
            // Alternate the order, so that no side always runs first.
            let order: Vec<usize> = if round % 2 == 0 {
                (0..6).collect()
            } else {
                (0..6).rev().collect()
            };
            for i in order {
                let start = Instant::now();
                for _ in 0..iterations {
                    sides[i]();
                }
                spent[i] = start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
            }
            for i in 0..6 {
                times[i].push(spent[i]);
                ratios[i].push(spent[i] / spent[0]);
            }
        }
        let base = median(&mut times[0]);
        let cells: Vec<String> = (1..6)
            .map(|i| {
                format!(
                    "{:.1} µs ({:.1}×)",
                    median(&mut times[i]),
                    median(&mut ratios[i])
                )
            })
            .collect();
        println!("| {size} B | {base:.2} | {} |", cells.join(" | "));
    }
}

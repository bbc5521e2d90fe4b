//! The declarative scheme: what it refuses to build, its serde form, and that it behaves as a
//! scheme (rotation, lists capped, timestamp before the MAC, never accepting everything).
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use verihook::scheme::declared::{
    Algorithm, Encoding, Piece, SchemeSpec, SecretEncoding, SignatureSpec, Source, TimeUnit,
};
use verihook::scheme::Verifier;
use verihook::{scheme::Clock, scheme::FixedClock, RequestHead, Scheme, WebhookRequest};

fn stripe_like() -> SchemeSpec {
    SchemeSpec::new(
        "acme",
        SignatureSpec::list("Acme-Signature", ',', "v1", Encoding::Hex),
    )
    .signed([Piece::Timestamp, Piece::literal("."), Piece::Body])
    .timestamp(Source::entry("t"), TimeUnit::Seconds)
}

fn refused(spec: &SchemeSpec, secrets: &[&str], url: Option<&str>) -> String {
    match spec.build(secrets, url) {
        Ok(scheme) => panic!("{spec:?} built: {scheme:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_specification_that_would_accept_too_much_is_refused_at_build() {
    let ok = stripe_like();
    assert!(ok.build(&["acme-secret-1"], None).is_ok());

    let no_body = stripe_like().signed([Piece::Timestamp, Piece::literal(".")]);
    assert!(refused(&no_body, &["acme-secret-1"], None).contains("no \"body\" piece"));

    let nothing = stripe_like().signed([]);
    assert!(refused(&nothing, &["acme-secret-1"], None).contains("no \"body\" piece"));

    let unsigned_timestamp = stripe_like().signed([Piece::Body]);
    assert!(refused(&unsigned_timestamp, &["acme-secret-1"], None).contains("not signed"));

    let header_timestamp_unsigned = SchemeSpec::new(
        "acme",
        SignatureSpec::header("Acme-Signature", Encoding::Hex),
    )
    .timestamp(Source::header("Acme-Timestamp"), TimeUnit::Seconds);
    assert!(refused(&header_timestamp_unsigned, &["acme-secret-1"], None).contains("not signed"));

    assert!(refused(&ok, &[], None).contains("no secret"));
    assert!(refused(&ok, &[""], None).contains("empty"));
    assert!(refused(&ok, &["short"], None).contains("fewer than the 8"));

    let mut base64_secret = stripe_like();
    base64_secret.secret.encoding = SecretEncoding::Base64;
    assert!(refused(&base64_secret, &["not base64!"], None).contains("not valid base64"));

    let url = stripe_like().signed([Piece::Url, Piece::Timestamp, Piece::Body]);
    assert!(refused(&url, &["acme-secret-1"], None).contains("public URL"));
    assert!(url
        .build(&["acme-secret-1"], Some("https://example.com/hooks"))
        .is_ok());

    let entry_without_list = SchemeSpec::new(
        "acme",
        SignatureSpec::header("Acme-Signature", Encoding::Hex),
    )
    .signed([Piece::Timestamp, Piece::Body])
    .timestamp(Source::entry("t"), TimeUnit::Seconds);
    assert!(refused(&entry_without_list, &["acme-secret-1"], None).contains("key=value list"));

    let id_piece = stripe_like()
        .signed([
            Piece::Timestamp,
            Piece::Id,
            Piece::literal("."),
            Piece::Body,
        ])
        .id(Source::body("id"));
    assert!(refused(&id_piece, &["acme-secret-1"], None).contains("\"id\" piece"));

    let timestamp_piece_undeclared = SchemeSpec::new(
        "acme",
        SignatureSpec::header("Acme-Signature", Encoding::Hex),
    )
    .signed([Piece::Timestamp, Piece::Body]);
    assert!(
        refused(&timestamp_piece_undeclared, &["acme-secret-1"], None)
            .contains("no timestamp is declared")
    );

    let bad_header = SchemeSpec::new(
        "acme",
        SignatureSpec::header("Acme Signature", Encoding::Hex),
    );
    assert!(refused(&bad_header, &["acme-secret-1"], None).contains("not a valid header name"));

    let bad_name = SchemeSpec::new("Acme Corp", SignatureSpec::header("X-Sig", Encoding::Hex));
    assert!(refused(&bad_name, &["acme-secret-1"], None).contains("name"));

    let bad_separator = SchemeSpec::new(
        "acme",
        SignatureSpec::list("X-Sig", 'x', "v1", Encoding::Hex),
    );
    assert!(refused(&bad_separator, &["acme-secret-1"], None).contains("separator"));

    let too_many = SchemeSpec::new("acme", SignatureSpec::header("X-Sig", Encoding::Hex))
        .signed(std::iter::repeat_n(Piece::Body, 13));
    assert!(refused(&too_many, &["acme-secret-1"], None).contains("at most 12"));
}

#[test]
fn the_serde_form_refuses_unknown_words_and_round_trips() {
    let unknown_encoding =
        r#"{"name":"acme","signature":{"header":"X-Sig","encoding":"base32"},"signed":["body"]}"#;
    let err = serde_json::from_str::<SchemeSpec>(unknown_encoding).unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `base32`"),
        "{err}"
    );
    let unknown_field = r#"{"name":"acme","signature":{"header":"X-Sig","encoding":"hex"},"signed":["body"],"tolerance":5}"#;
    let err = serde_json::from_str::<SchemeSpec>(unknown_field).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `tolerance`"),
        "{err}"
    );
    let unknown_algorithm = r#"{"name":"acme","signature":{"header":"X-Sig","encoding":"hex"},"algorithm":"md5","signed":["body"]}"#;
    assert!(serde_json::from_str::<SchemeSpec>(unknown_algorithm).is_err());

    let spec = stripe_like()
        .algorithm(Algorithm::HmacSha512)
        .id(Source::header("Acme-Id"))
        .event_type(Source::body("type"));
    let text = serde_json::to_string(&spec).unwrap();
    assert_eq!(serde_json::from_str::<SchemeSpec>(&text).unwrap(), spec);
    for file in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/schemes")).unwrap()
    {
        let path = file.unwrap().path();
        let spec: SchemeSpec =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let again: SchemeSpec =
            serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(again, spec, "{}", path.display());
    }
}

fn request(
    scheme: &Verifier<impl Scheme>,
    headers: &HeaderMap,
    body: &'static [u8],
    now: u64,
) -> Result<(), String> {
    let body = Bytes::from_static(body);
    let request = WebhookRequest::new(RequestHead::post(headers), &body);
    scheme
        .verify_at(&request, FixedClock::at_unix(now).now())
        .map(|_| ())
        .map_err(|e| e.code().to_owned())
}

fn mac(key: &[u8], parts: &[&[u8]]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    const_hex::encode(mac.finalize().into_bytes())
}

#[test]
fn a_declared_scheme_verifies_rotates_caps_and_checks_freshness_first() {
    let scheme = stripe_like()
        .algorithm(Algorithm::HmacSha512)
        .build(&["acme-old-secret", "acme-new-secret"], None)
        .unwrap();
    let body = br#"{"id":"evt_1"}"#;
    let good = mac(b"acme-new-secret", &[b"1700000000", b".", body]);
    let headers = |value: String| {
        let mut headers = HeaderMap::new();
        headers.insert("acme-signature", HeaderValue::from_str(&value).unwrap());
        headers
    };
    assert_eq!(
        request(
            &scheme,
            &headers(format!("t=1700000000,v1={good}")),
            body,
            1_700_000_010
        ),
        Ok(())
    );
    assert_eq!(
        request(
            &scheme,
            &headers(format!("t=1700000000,v1=00,v1={good}")),
            body,
            1_700_000_010
        ),
        Ok(())
    );
    assert_eq!(
        request(
            &scheme,
            &headers(format!("t=1700000000,v1={good}")),
            br#"{"id":"evt_2"}"#,
            1_700_000_010
        ),
        Err("bad_signature".into())
    );
    assert_eq!(
        request(
            &scheme,
            &headers(format!("t=1700000000,v1={good}")),
            body,
            1_700_000_301
        ),
        Err("timestamp_too_old".into())
    );
    let nine = format!("t=1700000000{}", ",v1=00".repeat(9));
    assert_eq!(
        request(&scheme, &headers(nine), body, 1_700_000_000),
        Err("malformed_header".into())
    );
    assert_eq!(
        request(&scheme, &HeaderMap::new(), body, 1_700_000_000),
        Err("missing_header".into())
    );

    // A stale request is refused by the precheck, before the body is read or a MAC computed.
    let stale = headers(format!("t=1600000000,v1={good}"));
    let err = scheme
        .check_head_at(
            &RequestHead::post(&stale),
            FixedClock::at_unix(1_700_000_000).now(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "timestamp_too_old");
    // Debug output names the scheme and counts secrets, never shows them.
    let debug = format!("{scheme:?}");
    assert!(
        debug.contains("acme") && debug.contains("secrets: 2"),
        "{debug}"
    );
    assert!(!debug.contains("acme-new-secret") && !debug.contains("acme-old-secret"));
}

#[test]
fn every_example_specification_verifies_what_its_signer_signs() {
    let url = "https://hooks.example.com/webhooks/acme?x=1";
    let target: http::Uri = "/webhooks/acme?x=1".parse().unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/schemes");
    let mut checked = 0;
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        let spec: SchemeSpec =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let signer =
            verihook::testing::DeclaredSigner::new(&spec, "example-secret-1", Some(url)).unwrap();
        let body = Bytes::from_static(br#"{"id":"evt_1","type":"invoice.paid"}"#);
        let headers = signer
            .sign(1_700_000_000, Some("delivery-1"), &body)
            .unwrap();
        let scheme = spec
            .build(&["example-secret-1"], Some(url))
            .unwrap()
            .with_clock(FixedClock::at_unix(1_700_000_001));
        let head = RequestHead::new(&http::Method::POST, &target, &headers);
        let verified = scheme.verify_request(&WebhookRequest::new(head, &body));
        assert!(
            verified.is_ok(),
            "{}: {verified:?} with {headers:?}",
            path.display()
        );
        let tampered = Bytes::from_static(br#"{"id":"evt_2","type":"invoice.paid"}"#);
        let head = RequestHead::new(&http::Method::POST, &target, &headers);
        let err = scheme
            .verify_request(&WebhookRequest::new(head, &tampered))
            .unwrap_err();
        assert_eq!(err.code(), "bad_signature", "{}", path.display());
        checked += 1;
    }
    assert_eq!(checked, 9);
}

#[test]
fn the_guides_declaration_is_the_example_file() {
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schemes.md")).unwrap();
    let section = &guide[guide.find("## A sender that is not listed").unwrap()..];
    let start = section.find("```json\n").unwrap() + "```json\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let quoted: SchemeSpec = serde_json::from_str(block).unwrap();
    let file: SchemeSpec = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/schemes/mux.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(quoted, file);
}

#[test]
fn a_specification_cannot_weaken_checks_outside_dangerous() {
    let secret = "acme-secret-1";
    // A one-byte minimum would accept a one-byte secret.
    let mut short = stripe_like();
    short.secret.min_len = 1;
    assert!(refused(&short, &[secret], None).contains("secret.min_len"));
    assert!(refused(&short, &["x"], None).contains("secret.min_len"));
    let short = verihook::dangerous::allow_short_declared_secrets(short);
    assert!(short.build(&["x"], None).is_ok());

    // A huge tolerance switches freshness off.
    let forever = stripe_like().tolerance(std::time::Duration::from_secs(u64::MAX));
    assert!(refused(&forever, &[secret], None).contains("tolerance_secs"));
    let hour = stripe_like().tolerance(std::time::Duration::from_secs(3600));
    assert!(hour.build(&[secret], None).is_ok());
    let day = stripe_like().tolerance(std::time::Duration::from_secs(86_400));
    assert!(refused(&day, &[secret], None).contains("3600"));
    let day = verihook::dangerous::allow_long_tolerance(day);
    assert!(day.build(&[secret], None).is_ok());

    // Two variable pieces side by side: bytes move from one into the other under one MAC.
    let glued = stripe_like()
        .signed([Piece::Timestamp, Piece::Id, Piece::Body])
        .id(Source::header("Acme-Id"));
    assert!(refused(&glued, &[secret], None).contains("side by side"));
    let glued_headers = SchemeSpec::new("acme", SignatureSpec::header("X-Sig", Encoding::Hex))
        .signed([Piece::header("X-A"), Piece::literal(""), Piece::Body]);
    assert!(refused(&glued_headers, &[secret], None).contains("side by side"));
    for between in [Piece::literal("."), Piece::Timestamp, Piece::Method] {
        let separated = stripe_like()
            .signed([Piece::Timestamp, Piece::Id, between, Piece::Body])
            .id(Source::header("Acme-Id"));
        assert!(separated.build(&[secret], None).is_ok(), "{separated:?}");
    }
    let glued = verihook::dangerous::allow_adjacent_pieces(glued);
    assert!(glued.build(&[secret], None).is_ok());

    // The same allowances in the serde form, under a `dangerous` object a reviewer can grep.
    let text = r#"{"name":"acme","signature":{"header":"X-Sig","encoding":"hex"},
        "signed":[{"header":"X-Id"},"body"],"tolerance_secs":7200,"secret":{"min_len":4},
        "dangerous":{"short_secrets":true,"long_tolerance":true,"adjacent_pieces":true}}"#;
    let spec: SchemeSpec = serde_json::from_str(text).unwrap();
    assert!(spec.build(&["four"], None).is_ok());
    let strict: SchemeSpec = serde_json::from_str(&text.replace("true", "false")).unwrap();
    assert!(strict.build(&["four"], None).is_err());
    let unknown = text.replace("short_secrets", "no_signature");
    assert!(serde_json::from_str::<SchemeSpec>(&unknown).is_err());
}

#[test]
fn only_the_example_specifications_that_need_it_carry_the_dangerous_flag() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/schemes");
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let spec: SchemeSpec = serde_json::from_str(&text).unwrap();
        let mut strict = spec.clone();
        strict.dangerous = Default::default();
        let needs = strict
            .build(&["example-secret-1"], Some("https://x.example/"))
            .is_err();
        assert_eq!(needs, text.contains("\"dangerous\""), "{}", path.display());
    }
}

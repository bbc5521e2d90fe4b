//! GitLab: the `X-Gitlab-Token` comparison and the reported id and event headers.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::gitlab::GitlabVerifier;
use verihook::testing::GitlabSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    signed: bool,
    token: Option<&'a [u8]>,
    event: Option<&'a [u8]>,
    uuid: Option<&'a [u8]>,
    body: &'a [u8],
}

const TOKEN: &str = "fuzz-gitlab-webhook-token";

fuzz_target!(|request: Request<'_>| {
    let mut headers = HeaderMap::new();
    if request.signed {
        headers = GitlabSigner::new(TOKEN)
            .unwrap()
            .sign(
                "Push Hook",
                "13792a34-cac6-4fda-95a8-c58e00a3954e",
                request.body,
            )
            .unwrap();
        common::append_to(
            &mut headers,
            "x-gitlab-token",
            request.token.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "x-gitlab-token", request.token);
        common::set(&mut headers, "x-gitlab-event", request.event);
        common::set(&mut headers, "x-gitlab-event-uuid", request.uuid);
    }
    let verifier = GitlabVerifier::with_secrets(["another-token-1234", TOKEN]).unwrap();
    let verified = common::exercise(&verifier, &headers, request.body);
    if request.signed && request.token.is_none() {
        assert!(verified.is_some(), "the right token verifies");
    }
});

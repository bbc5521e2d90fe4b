//! Every name the crate root exported until 0.1 still compiles (deprecated, hidden), and means
//! the same item as its new path.
#![allow(deprecated)]

use std::any::TypeId;
use std::time::Duration;

fn same<A: 'static, B: 'static>() -> bool {
    TypeId::of::<A>() == TypeId::of::<B>()
}

#[test]
fn old_root_types_are_the_new_ones() {
    use verihook::providers::*;
    assert!(same::<verihook::GithubVerifier, github::GithubVerifier>());
    assert!(same::<verihook::GitlabVerifier, gitlab::GitlabVerifier>());
    assert!(same::<verihook::LinearVerifier, linear::LinearVerifier>());
    assert!(same::<verihook::PaddleVerifier, paddle::PaddleVerifier>());
    assert!(same::<verihook::ShopifyVerifier, shopify::ShopifyVerifier>());
    assert!(same::<verihook::SlackVerifier, slack::SlackVerifier>());
    assert!(same::<verihook::SquareVerifier, square::SquareVerifier>());
    assert!(same::<verihook::StandardVerifier, standard::StandardVerifier>());
    assert!(same::<verihook::StripeVerifier, stripe::StripeVerifier>());
    assert!(same::<verihook::TwilioVerifier, twilio::TwilioVerifier>());
    assert!(same::<verihook::ZoomVerifier, zoom::ZoomVerifier>());
    #[cfg(feature = "discord")]
    assert!(same::<verihook::DiscordVerifier, discord::DiscordVerifier>());

    assert!(same::<verihook::PayloadError, verihook::error::PayloadError>());
    assert!(same::<verihook::SecretError, verihook::error::SecretError>());
    assert!(same::<verihook::EventBuilder, verihook::event::EventBuilder>());
    assert!(same::<verihook::Field, verihook::event::Field>());
    assert!(same::<verihook::Handshake, verihook::event::Handshake>());
    assert!(same::<verihook::Signed, verihook::event::Signed>());
    assert!(same::<verihook::Verified, verihook::event::Verified>());
    assert!(same::<
        verihook::ReceiverBuilder,
        verihook::receiver::ReceiverBuilder,
    >());
    assert!(same::<
        verihook::UnroutedPolicy,
        verihook::router::UnroutedPolicy,
    >());
    assert!(same::<verihook::State<u8>, verihook::router::State<u8>>());
    assert!(same::<verihook::FixedClock, verihook::scheme::FixedClock>());
    assert!(same::<verihook::SystemClock, verihook::scheme::SystemClock>());
    assert!(same::<
        verihook::VerifyOptions,
        verihook::scheme::VerifyOptions,
    >());
    assert!(same::<
        verihook::cloudevents::StructuredEvent<u8>,
        verihook::scheme::cloudevents::StructuredEvent<u8>,
    >());
}

#[test]
fn old_root_constants_keep_their_values() {
    assert_eq!(verihook::MAX_SENDER_NAME, verihook::error::MAX_SENDER_NAME);
    assert_eq!(verihook::MAX_KEY_LEN, verihook::event::MAX_KEY_LEN);
    assert_eq!(verihook::DEFAULT_LEASE, verihook::handler::DEFAULT_LEASE);
    assert_eq!(verihook::DEFAULT_RETAIN, verihook::handler::DEFAULT_RETAIN);
    assert_eq!(
        verihook::LINEAR_TOLERANCE,
        verihook::providers::linear::LINEAR_TOLERANCE
    );
    assert_eq!(
        verihook::PADDLE_TOLERANCE,
        verihook::providers::paddle::PADDLE_TOLERANCE
    );
    assert_eq!(
        verihook::DEFAULT_BODY_LIMIT,
        verihook::scheme::DEFAULT_BODY_LIMIT
    );
    assert_eq!(verihook::DEFAULT_TOLERANCE, Duration::from_secs(300));
    assert_eq!(verihook::idempotency::MAX_TOKEN_LEN, 64);
}

#[test]
fn old_paths_still_build_a_verifier_the_old_way() {
    use verihook::{Clock as _, FixedClock, GithubVerifier, State, SystemClock, VerifyOptions};

    let mut options = VerifyOptions::default();
    options.tolerance = Some(Duration::from_secs(60));
    let old = GithubVerifier::new("a long webhook secret")
        .unwrap()
        .with_options(options)
        .with_clock(FixedClock::at_unix(1_700_000_000))
        .with_clock(SystemClock);
    assert_eq!(old.options().tolerance, Some(Duration::from_secs(60)));
    assert!(SystemClock.now() > FixedClock::at_unix(0).now());
    let State(inner) = State(3_u8);
    assert_eq!(inner, 3);
    assert!(matches!(
        verihook::UnroutedPolicy::default(),
        verihook::router::UnroutedPolicy::Acknowledge
    ));
}

#[test]
fn new_paths_work() {
    use verihook::providers::github::GithubVerifier;
    use verihook::scheme::{FixedClock, VerifyOptions};
    use verihook::{Receiver, Verifier};

    let verifier: Verifier<_> = GithubVerifier::new("a long webhook secret")
        .unwrap()
        .with_options(VerifyOptions::default())
        .with_clock(FixedClock::at_unix(1_700_000_000));
    assert_eq!(verifier.name(), "github");
    let receiver = Receiver::builder()
        .sender("github", verifier)
        .handler(|_| async { Ok(()) })
        .build();
    assert!(receiver.is_ok());
}

#[cfg(feature = "octocrab")]
#[test]
fn old_octocrab_paths_still_compile() {
    use verihook::envelope::github_models::octocrab::models::webhook_events as models;
    assert!(same::<
        verihook::envelope::github_models::WebhookEventPayload,
        models::WebhookEventPayload,
    >());
    assert!(same::<
        verihook::envelope::github_models::WebhookEventType,
        models::WebhookEventType,
    >());
    assert!(same::<
        verihook::envelope::github_models::payload::PushWebhookEventPayload,
        models::payload::PushWebhookEventPayload,
    >());
}

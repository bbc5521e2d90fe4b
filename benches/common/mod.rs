//! The requests both verification benchmarks time: one body per size, signed for each scheme,
//! with headers as a server hands them over.
#![allow(clippy::unwrap_used, dead_code)] // set-up that cannot fail; each bench uses a part

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;
use verihook::testing::{
    DiscordSigner, GithubSigner, GitlabSigner, LinearSigner, PaddleSigner, ShopifySigner,
    SlackSigner, SquareSigner, StandardSigner, StripeSigner, TwilioSigner, ZoomSigner,
};
use verihook::{
    providers::discord::DiscordVerifier, providers::github::GithubVerifier,
    providers::gitlab::GitlabVerifier, providers::linear::LinearVerifier,
    providers::paddle::PaddleVerifier, providers::shopify::ShopifyVerifier,
    providers::slack::SlackVerifier, providers::square::SquareVerifier,
    providers::standard::StandardVerifier, providers::stripe::StripeVerifier,
    providers::twilio::TwilioVerifier, providers::zoom::ZoomVerifier, RequestHead, Scheme,
    WebhookRequest,
};

pub(crate) const SIZES: [usize; 4] = [256, 1024, 64 * 1024, 1024 * 1024];
const GITHUB_SECRET: &str = "bench-github-secret";
const STRIPE_SECRET: &str = "whsec_bench_stripe_secret";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Headers every delivery carries besides the signature ones, so lookups cost what they do in
/// a real request (GitHub sends about a dozen headers).
const COMMON: [(&str, &str); 8] = [
    ("host", "hooks.example.com"),
    ("user-agent", "GitHub-Hookshot/5a0b6ff"),
    ("accept", "*/*"),
    ("content-type", "application/json"),
    ("content-length", "1024"),
    ("x-github-hook-id", "292430182"),
    ("x-github-hook-installation-target-id", "79929171"),
    ("x-github-hook-installation-target-type", "repository"),
];

/// Who is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contender {
    /// A pre-keyed HMAC-SHA256 over the body: what any verifier must at least do.
    Floor,
    Github,
    Stripe,
    Standard,
    /// The `standardwebhooks` crate on the identical Standard Webhooks request.
    StandardwebhooksCrate,
    Slack,
    /// Twilio's JSON form: the URL (with `bodySHA256`) is MACed, the body hashed.
    Twilio,
    Square,
    /// ed25519: a public-key signature, not a MAC; its ratio to the floor says little.
    Discord,
    Shopify,
    /// A shared token compared through SHA-256 digests; no MAC over the body at all.
    Gitlab,
    Paddle,
    /// A MAC of the body, then its signed `webhookTimestamp` found from the end.
    Linear,
    Zoom,
    /// Stripe's format written as a declared scheme (`examples/schemes/stripe.json`), on the
    /// same request as the built-in.
    Declared,
}

impl Contender {
    pub(crate) const ALL: [Contender; 15] = [
        Self::Floor,
        Self::Github,
        Self::Stripe,
        Self::Standard,
        Self::StandardwebhooksCrate,
        Self::Slack,
        Self::Twilio,
        Self::Square,
        Self::Discord,
        Self::Shopify,
        Self::Gitlab,
        Self::Paddle,
        Self::Linear,
        Self::Zoom,
        Self::Declared,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Floor => "floor-hmac-sha256",
            Self::Github => "github",
            Self::Stripe => "stripe",
            Self::Standard => "standard-webhooks",
            Self::StandardwebhooksCrate => "standardwebhooks-crate",
            Self::Slack => "slack",
            Self::Twilio => "twilio",
            Self::Square => "square",
            Self::Discord => "discord",
            Self::Shopify => "shopify",
            Self::Gitlab => "gitlab",
            Self::Paddle => "paddle",
            Self::Linear => "linear",
            Self::Zoom => "zoom",
            Self::Declared => "declared (stripe.json)",
        }
    }
}

/// One body size, signed for every scheme at the time of construction.
pub(crate) struct Fixture {
    pub(crate) body: Bytes,
    floor: Hmac<Sha256>,
    github: (GithubVerifier, HeaderMap),
    stripe: (StripeVerifier, HeaderMap),
    standard: (StandardVerifier, HeaderMap),
    theirs: standardwebhooks::Webhook,
    slack: (SlackVerifier, HeaderMap),
    twilio: (TwilioVerifier, HeaderMap, http::Uri),
    square: (SquareVerifier, HeaderMap, http::Uri),
    discord: (DiscordVerifier, HeaderMap),
    shopify: (ShopifyVerifier, HeaderMap),
    gitlab: (GitlabVerifier, HeaderMap),
    paddle: (PaddleVerifier, HeaderMap),
    /// Linear signs its timestamp inside the body: its own body of the same size.
    linear: (LinearVerifier, HeaderMap, Bytes),
    zoom: (ZoomVerifier, HeaderMap),
    declared: verihook::scheme::Verifier<verihook::scheme::declared::DeclaredScheme>,
}

const TWILIO_URL: &str = "https://hooks.example.com/webhooks/twilio";
const SQUARE_URL: &str = "https://hooks.example.com/webhooks/square";

impl Fixture {
    /// Signs a `size`-byte body now; the 5-minute tolerance holds for that long.
    pub(crate) fn new(size: usize) -> Self {
        let unit = br#"{"type":"invoice.paid","data":{"amount":4200,"currency":"eur"}},"#;
        let body = Bytes::from(unit.iter().copied().cycle().take(size).collect::<Vec<u8>>());
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let github = GithubSigner::new(GITHUB_SECRET)
            .unwrap()
            .sign_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", &body)
            .unwrap();
        let stripe = StripeSigner::new(STRIPE_SECRET).unwrap().sign(ts, &body);
        let standard = StandardSigner::new(STANDARD_SECRET)
            .unwrap()
            .sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, &body)
            .unwrap();
        let slack = SlackSigner::new("bench-slack-secret")
            .unwrap()
            .sign(ts, &body);
        let (twilio_url, twilio) = TwilioSigner::new("bench-twilio-token")
            .unwrap()
            .sign_json(TWILIO_URL, &body)
            .unwrap();
        let twilio_target: http::Uri = twilio_url
            .trim_start_matches("https://hooks.example.com")
            .parse()
            .unwrap();
        let square = SquareSigner::new("bench-square-key")
            .unwrap()
            .sign(SQUARE_URL, &body)
            .unwrap();
        let shopify = ShopifySigner::new("bench-shopify-secret")
            .unwrap()
            .sign_delivery("orders/create", "bench.myshopify.com", "w-1", &body)
            .unwrap();
        let gitlab = GitlabSigner::new("bench-gitlab-token")
            .unwrap()
            .sign("Push Hook", "13792a34-cac6-4fda-95a8-c58e00a3954e", &body)
            .unwrap();
        let paddle = PaddleSigner::new("bench-paddle-secret")
            .unwrap()
            .sign(ts, &body);
        let zoom = ZoomSigner::new("bench-zoom-secret")
            .unwrap()
            .sign(ts, &body);
        // A Linear body: the same units as a string member, the timestamp last, as Linear
        // writes it.
        let tail = format!(r#"","webhookTimestamp":{}000}}"#, ts);
        let head = r#"{"type":"Issue","action":"update","data":""#;
        let filler = size.saturating_sub(head.len() + tail.len());
        let linear_body = Bytes::from(
            [
                head.as_bytes(),
                &b"invoice paid "
                    .iter()
                    .copied()
                    .cycle()
                    .take(filler)
                    .collect::<Vec<u8>>(),
                tail.as_bytes(),
            ]
            .concat(),
        );
        let linear = LinearSigner::new("bench-linear-secret")
            .unwrap()
            .sign(
                "Issue",
                "234d1a4e-b617-4388-90fe-adc3633d6b72",
                &linear_body,
            )
            .unwrap();
        let discord_signer = DiscordSigner::from_seed([5; 32]);
        let discord = discord_signer.sign(ts, &body);
        let fixture = Self {
            slack: (
                SlackVerifier::new("bench-slack-secret").unwrap(),
                as_received(&slack),
            ),
            twilio: (
                TwilioVerifier::new("bench-twilio-token", TWILIO_URL).unwrap(),
                as_received(&twilio),
                twilio_target,
            ),
            square: (
                SquareVerifier::new("bench-square-key", SQUARE_URL).unwrap(),
                as_received(&square),
                http::Uri::from_static("/webhooks/square"),
            ),
            discord: (
                DiscordVerifier::new(&discord_signer.public_key()).unwrap(),
                as_received(&discord),
            ),
            shopify: (
                ShopifyVerifier::new("bench-shopify-secret").unwrap(),
                as_received(&shopify),
            ),
            gitlab: (
                GitlabVerifier::new("bench-gitlab-token").unwrap(),
                as_received(&gitlab),
            ),
            // Paddle's 5 s and Linear's 60 s windows would close during a run.
            paddle: (
                PaddleVerifier::new("bench-paddle-secret")
                    .unwrap()
                    .with_tolerance(std::time::Duration::from_secs(3600)),
                as_received(&paddle),
            ),
            linear: (
                LinearVerifier::new("bench-linear-secret")
                    .unwrap()
                    .with_tolerance(std::time::Duration::from_secs(3600)),
                as_received(&linear),
                linear_body,
            ),
            zoom: (
                ZoomVerifier::new("bench-zoom-secret").unwrap(),
                as_received(&zoom),
            ),
            declared: serde_json::from_str::<verihook::scheme::declared::SchemeSpec>(include_str!(
                "../../examples/schemes/stripe.json"
            ))
            .unwrap()
            .build(&[STRIPE_SECRET], None)
            .unwrap(),
            floor: <Hmac<Sha256> as KeyInit>::new_from_slice(b"bench-floor-secret").unwrap(),
            github: (
                GithubVerifier::new(GITHUB_SECRET).unwrap(),
                as_received(&github),
            ),
            stripe: (
                StripeVerifier::new(STRIPE_SECRET).unwrap(),
                as_received(&stripe),
            ),
            standard: (
                StandardVerifier::new(STANDARD_SECRET).unwrap(),
                as_received(&standard),
            ),
            theirs: standardwebhooks::Webhook::new(STANDARD_SECRET).unwrap(),
            body,
        };
        // Every contender must accept its request, or the timings mean nothing.
        for contender in Contender::ALL {
            fixture.run(contender);
        }
        fixture
    }

    /// One verification (or, for the floor, one MAC) of the body.
    #[inline]
    pub(crate) fn run(&self, contender: Contender) {
        let body = &self.body;
        match contender {
            Contender::Floor => {
                let mut mac = self.floor.clone();
                mac.update(black_box(body));
                black_box(mac.finalize());
            }
            Contender::Github => {
                black_box(
                    self.github
                        .0
                        .verify(black_box(&self.github.1), body.clone()),
                )
                .unwrap();
            }
            Contender::Stripe => {
                black_box(
                    self.stripe
                        .0
                        .verify(black_box(&self.stripe.1), body.clone()),
                )
                .unwrap();
            }
            Contender::Standard => {
                black_box(
                    self.standard
                        .0
                        .verify(black_box(&self.standard.1), body.clone()),
                )
                .unwrap();
            }
            Contender::StandardwebhooksCrate => {
                black_box(self.theirs.verify(black_box(body), &self.standard.1)).unwrap();
            }
            Contender::Slack => {
                black_box(self.slack.0.verify(black_box(&self.slack.1), body.clone())).unwrap();
            }
            Contender::Twilio => verify_at(&self.twilio.0, &self.twilio.2, &self.twilio.1, body),
            Contender::Square => verify_at(&self.square.0, &self.square.2, &self.square.1, body),
            Contender::Discord => {
                black_box(
                    self.discord
                        .0
                        .verify(black_box(&self.discord.1), body.clone()),
                )
                .unwrap();
            }
            Contender::Shopify => {
                black_box(
                    self.shopify
                        .0
                        .verify(black_box(&self.shopify.1), body.clone()),
                )
                .unwrap();
            }
            Contender::Gitlab => {
                black_box(
                    self.gitlab
                        .0
                        .verify(black_box(&self.gitlab.1), body.clone()),
                )
                .unwrap();
            }
            Contender::Paddle => {
                black_box(
                    self.paddle
                        .0
                        .verify(black_box(&self.paddle.1), body.clone()),
                )
                .unwrap();
            }
            Contender::Linear => {
                black_box(
                    self.linear
                        .0
                        .verify(black_box(&self.linear.1), self.linear.2.clone()),
                )
                .unwrap();
            }
            Contender::Zoom => {
                black_box(self.zoom.0.verify(black_box(&self.zoom.1), body.clone())).unwrap();
            }
            Contender::Declared => {
                let request = WebhookRequest::new(RequestHead::post(&self.stripe.1), body);
                let scheme = black_box(&self.declared);
                black_box(scheme.verify_request(&request)).unwrap();
            }
        }
    }
}

/// Verifies a request to `target` (schemes that sign the URL).
#[inline]
fn verify_at(
    scheme: &verihook::scheme::Verifier<impl Scheme>,
    target: &http::Uri,
    headers: &HeaderMap,
    body: &Bytes,
) {
    let head = RequestHead::new(&http::Method::POST, target, black_box(headers));
    black_box(scheme.verify_request(&WebhookRequest::new(head, body))).unwrap();
}

/// Headers as a server hands them over: every value a slice of one shared buffer.
fn as_received(signed: &HeaderMap) -> HeaderMap {
    let common = COMMON.iter().map(|(name, value)| {
        (
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    });
    let signed = signed
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()));
    let mut head = Vec::new();
    let mut spans = Vec::new();
    for (name, value) in common.chain(signed) {
        let start = head.len();
        head.extend_from_slice(value.as_bytes());
        spans.push((name, start..head.len()));
    }
    let head = Bytes::from(head);
    let mut headers = HeaderMap::new();
    for (name, span) in spans {
        headers.insert(
            name,
            HeaderValue::from_maybe_shared(head.slice(span)).unwrap(),
        );
    }
    headers
}

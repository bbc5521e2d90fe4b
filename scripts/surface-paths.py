#!/usr/bin/env python3
"""Rewrite verihook's old crate-root paths and feature names to the new ones, in place.

    scripts/surface-paths.py FILE...            # .rs, .md, .toml, .sh, anything textual
    scripts/surface-paths.py --crate FILE...    # also `crate::Name` (files inside verihook's src/)

`verihook::StripeVerifier` becomes `verihook::providers::stripe::StripeVerifier`, a name inside
`use verihook::{A, B}` becomes its new path within the group, `feature = "ed25519"` becomes
`feature = "discord"`, and `"ed25519"`/`"guards"` inside a `features = [...]` (or
`required-features`) list or after `--features` become `"discord"`/`"guard"`. Names that stay at
the root are left alone. Run `cargo fmt` afterwards to re-sort rewritten `use` groups.
Prints each file it changed; exits 0.
"""
import re
import sys

# Every name the crate root exported on a1d3e63 and no longer does, with its new path.
MOVED = {
    # errors
    "PayloadError": "error::PayloadError",
    "SecretError": "error::SecretError",
    "MAX_SENDER_NAME": "error::MAX_SENDER_NAME",
    # events
    "EventBuilder": "event::EventBuilder",
    "Field": "event::Field",
    "Handshake": "event::Handshake",
    "Signed": "event::Signed",
    "Verified": "event::Verified",
    "MAX_KEY_LEN": "event::MAX_KEY_LEN",
    # handler
    "DEFAULT_LEASE": "handler::DEFAULT_LEASE",
    "DEFAULT_RETAIN": "handler::DEFAULT_RETAIN",
    # providers
    "DiscordVerifier": "providers::discord::DiscordVerifier",
    "GithubVerifier": "providers::github::GithubVerifier",
    "GitlabVerifier": "providers::gitlab::GitlabVerifier",
    "LinearVerifier": "providers::linear::LinearVerifier",
    "LINEAR_TOLERANCE": "providers::linear::LINEAR_TOLERANCE",
    "PaddleVerifier": "providers::paddle::PaddleVerifier",
    "PADDLE_TOLERANCE": "providers::paddle::PADDLE_TOLERANCE",
    "ShopifyVerifier": "providers::shopify::ShopifyVerifier",
    "SlackVerifier": "providers::slack::SlackVerifier",
    "SquareVerifier": "providers::square::SquareVerifier",
    "StandardVerifier": "providers::standard::StandardVerifier",
    "StripeVerifier": "providers::stripe::StripeVerifier",
    "TwilioVerifier": "providers::twilio::TwilioVerifier",
    "ZoomVerifier": "providers::zoom::ZoomVerifier",
    # receiver, router
    "ReceiverBuilder": "receiver::ReceiverBuilder",
    "State": "router::State",
    "UnroutedPolicy": "router::UnroutedPolicy",
    # schemes and policy
    "cloudevents": "scheme::cloudevents",
    "DEFAULT_BODY_LIMIT": "scheme::DEFAULT_BODY_LIMIT",
    "Clock": "scheme::Clock",
    "FixedClock": "scheme::FixedClock",
    "SystemClock": "scheme::SystemClock",
    "VerifyOptions": "scheme::VerifyOptions",
    "DEFAULT_TOLERANCE": "scheme::DEFAULT_TOLERANCE",
}

# Old module paths below the root that moved (prefix rewrite).
MOVED_PREFIX = {
    "envelope::github_models::payload::": "envelope::github_models::octocrab::models::webhook_events::payload::",
    "envelope::github_models::WebhookEventPayload": "envelope::github_models::octocrab::models::webhook_events::WebhookEventPayload",
    "envelope::github_models::WebhookEventType": "envelope::github_models::octocrab::models::webhook_events::WebhookEventType",
}

FEATURES = {"ed25519": "discord", "guards": "guard"}

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def split_top(group):
    """Split the inside of a `{...}` use group at top-level commas, keeping the text exact."""
    items, depth, start = [], 0, 0
    for i, c in enumerate(group):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            items.append(group[start:i])
            start = i + 1
    items.append(group[start:])
    return items


def rewrite_item(item):
    """`  Name as X` -> `  new::path::Name as X` when Name moved; anything else unchanged."""
    stripped = item.strip()
    m = NAME.match(stripped)
    if not m:
        return item
    name = m.group(0)
    rest = stripped[m.end():]
    if name in MOVED:
        lead = item[: len(item) - len(item.lstrip())]
        trail = item[len(item.rstrip()):]
        return lead + MOVED[name] + rest + trail
    for old, new in MOVED_PREFIX.items():
        if stripped.startswith(old):
            lead = item[: len(item) - len(item.lstrip())]
            return lead + new + item.lstrip()[len(old):]
    return item


def rewrite_groups(text, root):
    out, pos = [], 0
    pattern = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(root) + r"::\{")
    while True:
        m = pattern.search(text, pos)
        if not m:
            out.append(text[pos:])
            return "".join(out)
        open_at = m.end() - 1
        depth, i = 0, open_at
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if i >= len(text):
            out.append(text[pos:])
            return "".join(out)
        inner = text[open_at + 1 : i]
        new_inner = ",".join(rewrite_item(it) for it in split_top(inner))
        out.append(text[pos : open_at + 1] + new_inner + "}")
        pos = i + 1


def rewrite_paths(text, roots):
    for root in roots:
        text = rewrite_groups(text, root)
        names = "|".join(sorted(MOVED, key=len, reverse=True))
        text = re.sub(
            r"(?<![A-Za-z0-9_])(" + re.escape(root) + r")::(" + names + r")\b",
            lambda m: m.group(1) + "::" + MOVED[m.group(2)],
            text,
        )
        for old, new in MOVED_PREFIX.items():
            text = re.sub(
                r"(?<![A-Za-z0-9_])(" + re.escape(root) + r")::" + re.escape(old),
                lambda m: m.group(1) + "::" + new,
                text,
            )
    return text


def rewrite_features(text):
    for old, new in FEATURES.items():
        text = re.sub(r'(feature\s*=\s*")' + old + '"', r"\g<1>" + new + '"', text)

    def in_list(m):
        body = m.group(2)
        for old, new in FEATURES.items():
            body = re.sub(r'"' + old + r'"', '"' + new + '"', body)
        return m.group(1) + body + m.group(3)

    text = re.sub(r"((?:required-)?features\s*=\s*\[)([^\]]*)(\])", in_list, text)

    def flag(m):
        words = re.split(r"([ ,])", m.group(2))
        return m.group(1) + "".join(FEATURES.get(w, w) for w in words)

    text = re.sub(r"(--features[ =])([A-Za-z0-9_,\- ]*?(?=[`'\"\n]|$| --| &&| \\))", flag, text, flags=re.M)
    # prose: "feature `ed25519`", "the `guards` feature"
    for old, new in FEATURES.items():
        text = re.sub(r"(feature[s]? `)" + old + "`", r"\g<1>" + new + "`", text)
        text = re.sub(r"`" + old + r"` feature", "`" + new + "` feature", text)
    return text


# Renamed functions (the old ones forward, deprecated).
RENAMED_CALLS = {r"\bExplainer::builtin\(": "Explainer::provider("}


def rewrite_calls(text):
    for old, new in RENAMED_CALLS.items():
        text = re.sub(old, new, text)
    return text


def main(argv):
    roots = ["verihook"]
    files = []
    for a in argv:
        if a == "--crate":
            roots.append("crate")
        else:
            files.append(a)
    for path in files:
        with open(path, encoding="utf-8") as f:
            old = f.read()
        new = rewrite_calls(rewrite_features(rewrite_paths(old, roots)))
        if new != old:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

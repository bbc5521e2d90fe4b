//! The built-in providers, one module each: everything verihook knows about a sender (its
//! scheme, its signer, its typed envelope, its route key, its sample event) lives in that
//! provider's file.

pub mod discord;
pub mod github;
pub mod gitlab;
pub mod linear;
pub mod paddle;
pub mod shopify;
pub mod slack;
pub mod square;
pub mod standard;
pub mod stripe;
pub mod twilio;
pub mod zoom;

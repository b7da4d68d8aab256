//! Bearer tokens: each maps to an actor id and roles. The tokens file
//! holds only SHA-256 hashes of the tokens (TOML, or JSON for a `.json`
//! file):
//!
//! ```toml
//! [[token]]
//! sha256 = "9f86d0…"
//! actor = "alice"
//! roles = ["service_desk"]
//! ```
//!
//! A presented token is hashed and compared with every configured hash in
//! constant time, so the answer time does not tell how much of a hash
//! matched. What an actor may do is decided by the definition's roles (the
//! engine's role checks; reads by [`may_read`]).

use std::collections::HashSet;
use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;
use crate::ir::Process;
use crate::runtime::Actor;

/// One configured token, by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// SHA-256 of the token, lowercase hex.
    pub sha256: String,
    pub actor: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

/// The configured tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<([u8; 32], Actor)>,
}

impl Tokens {
    /// No tokens: every protected route answers 401.
    pub fn none() -> Tokens {
        Tokens::default()
    }

    /// Tokens from entries, checking each hash and actor.
    pub fn from_entries(entries: Vec<TokenEntry>) -> Result<Tokens, String> {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(entries.len());
        for (i, e) in entries.into_iter().enumerate() {
            let at = format!("token {} (actor `{}`)", i + 1, e.actor);
            let bytes = hex::decode(e.sha256.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| format!("{at}: `sha256` must be 64 hexadecimal digits"))?;
            if !seen.insert(bytes) {
                return Err(format!("{at}: the same hash is configured twice"));
            }
            let actor = Actor {
                id: e.actor.trim().to_string(),
                roles: e.roles.iter().map(|r| r.trim().to_string()).collect(),
            };
            if actor.id.is_empty() || actor.id.len() > 256 {
                return Err(format!("{at}: the actor id must have 1 to 256 bytes"));
            }
            if actor.roles.iter().any(|r| r.is_empty() || r.len() > 256) {
                return Err(format!("{at}: role names must have 1 to 256 bytes"));
            }
            // Actor ids and roles are stored with every event.
            if std::iter::once(&actor.id)
                .chain(&actor.roles)
                .any(|t| t.chars().any(char::is_control))
            {
                return Err(format!(
                    "{at}: actor ids and role names cannot hold control characters"
                ));
            }
            out.push((bytes, actor));
        }
        Ok(Tokens { entries: out })
    }

    /// Reads a tokens file: JSON when its name ends in `.json`, else TOML.
    pub fn load(path: &Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the tokens file `{}`: {e}", path.display()))?;
        let bad = |e: String| format!("the tokens file `{}` is invalid: {e}", path.display());
        let file: TokensFile = if path.extension().is_some_and(|x| x == "json") {
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| bad(e.to_string()))?
        };
        Tokens::from_entries(file.token).map_err(bad)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The actor of a presented token. Every entry is compared (in
    /// constant time each), whether or not one matched earlier.
    pub fn actor(&self, token: &str) -> Option<Actor> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (hash, actor) in &self.entries {
            if bool::from(hash.ct_eq(&digest)) {
                found = Some(actor.clone());
            }
        }
        found
    }
}

/// SHA-256 of a token, lowercase hex (what the tokens file holds).
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh random token: `pdca_` and 32 random bytes in hex.
pub fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness available: {e}"))?;
    Ok(format!("pdca_{}", hex::encode(bytes)))
}

/// The TOML entry for a token, to paste into the tokens file.
pub fn toml_entry(entry: &TokenEntry) -> Result<String, String> {
    let file = TokensFile {
        token: vec![entry.clone()],
    };
    toml::to_string(&file).map_err(|e| e.to_string())
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "unauthenticated",
                "this route needs a bearer token: `Authorization: Bearer TOKEN`",
                None,
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "the `Authorization` header must be `Bearer TOKEN`",
                Some("invalid_request"),
            ));
        };
        match state.tokens().actor(token) {
            Some(actor) => Ok(Caller(actor)),
            None => Err(ApiError::unauthorized(
                "invalid_token",
                "the bearer token is not valid",
                Some("invalid_token"),
            )),
        }
    }
}

pub use crate::runtime::access::{can_read, process_roles};

/// [`can_read`], or a 403 `role_missing` naming the roles that may.
pub fn may_read(actor: &Actor, p: &Process) -> Result<(), ApiError> {
    if can_read(actor, p) {
        return Ok(());
    }
    let mut allowed: Vec<&str> = process_roles(p).into_iter().collect();
    allowed.sort_unstable();
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "role_missing",
        format!(
            "`{}` holds none of the roles of process `{}` and may not read it",
            actor.id, p.name
        ),
    )
    .with_details(json!({
        "action": format!("read `{}`", p.name),
        "actor": actor.id,
        "actor_roles": actor.roles,
        "allowed": allowed,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_resolve_by_hash_only() {
        let token = "pdca_secret";
        let tokens = Tokens::from_entries(vec![TokenEntry {
            sha256: hash_token(token),
            actor: "alice".into(),
            roles: vec!["service_desk".into()],
        }])
        .expect("valid");
        assert_eq!(
            tokens.actor(token),
            Some(Actor::new("alice", &["service_desk"]))
        );
        assert_eq!(tokens.actor("pdca_other"), None);
    }

    #[test]
    fn bad_hashes_are_refused() {
        let e = Tokens::from_entries(vec![TokenEntry {
            sha256: "abc".into(),
            actor: "alice".into(),
            roles: vec![],
        }]);
        assert!(e.is_err());
    }

    #[test]
    fn entries_round_trip_through_toml() {
        let entry = TokenEntry {
            sha256: hash_token("x"),
            actor: "bob \"the\" builder".into(),
            roles: vec!["a".into(), "b".into()],
        };
        let text = toml_entry(&entry).expect("toml");
        let file: TokensFile = toml::from_str(&text).expect("parses");
        assert_eq!(file.token, vec![entry]);
    }

    #[test]
    fn fresh_tokens_differ() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_ne!(a, b);
        assert_eq!(a.len(), "pdca_".len() + 64);
    }
}

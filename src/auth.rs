//! Bearer API keys and roles. A key is shown once when created; the store keeps only its
//! SHA-256 (keys are 256-bit random, so a fast hash is the right tool, not a password hash).

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{AppError, AppResult};
use crate::store::{self, Db};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including governance data (markets, brands, channels) and QA rules.
    Admin,
    /// Campaigns and tickets: create, edit, QA, deploy, propose fixes.
    Trafficker,
    /// Reads everything and uses the guideline copilot.
    Planner,
    /// Reads everything and decides on fix proposals.
    Ops,
    /// Reads, and asks the guideline copilot.
    Viewer,
    /// Sends conversion events only.
    Tracker,
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Govern,
    Traffic,
    Review,
    Copilot,
    Track,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Trafficker,
        Role::Planner,
        Role::Ops,
        Role::Viewer,
        Role::Tracker,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Trafficker => "trafficker",
            Role::Planner => "planner",
            Role::Ops => "ops",
            Role::Viewer => "viewer",
            Role::Tracker => "tracker",
        }
    }

    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| {
                AppError::validation(
                    "role",
                    format!(
                        "\"{raw}\" is not a role; use one of {}",
                        Self::ALL.map(|r| r.as_str()).join(", ")
                    ),
                )
            })
    }

    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Trafficker => matches!(p, Read | Traffic | Copilot),
            Role::Planner => matches!(p, Read | Copilot),
            Role::Ops => matches!(p, Read | Review | Copilot),
            // Reading guidelines is reading: viewers may ask the copilot too.
            Role::Viewer => matches!(p, Read | Copilot),
            Role::Tracker => matches!(p, Track),
        }
    }
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Permission::Read,
        Permission::Govern,
        Permission::Traffic,
        Permission::Review,
        Permission::Copilot,
        Permission::Track,
    ];

    /// The name clients see (`GET /api/v1/me`).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Govern => "govern",
            Permission::Traffic => "traffic",
            Permission::Review => "review",
            Permission::Copilot => "copilot",
            Permission::Track => "track",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Permission::Read => "read data (any role but tracker)",
            Permission::Govern => "edit markets, brands and channels (admin)",
            Permission::Traffic => "edit campaigns and tickets (trafficker or admin)",
            Permission::Review => "decide on fix proposals (ops or admin)",
            Permission::Copilot => "use the guideline copilot (any role but tracker)",
            Permission::Track => "send conversion events (tracker or admin)",
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's name, or "local-operator".
    pub name: String,
    pub role: Role,
    /// Brand codes a scoped key may act for (tracker keys); `None` means every brand.
    pub brand_scope: Option<Vec<String>>,
}

impl Principal {
    /// The person at the terminal: stdio MCP and `--no-auth` on loopback.
    pub fn local_operator() -> Self {
        Self {
            name: "local-operator".into(),
            role: Role::Admin,
            brand_scope: None,
        }
    }

    /// The brands a scoped key covers; `None` for every brand.
    pub fn brands(&self) -> Option<&[String]> {
        self.brand_scope.as_deref()
    }

    /// Shared reference data (markets, channels, QA rules, other brands) is for keys that
    /// cover every brand.
    pub fn require_unscoped(&self, what: &str) -> AppResult<()> {
        match &self.brand_scope {
            Some(scope) => Err(AppError::Forbidden(format!(
                "the key \"{}\" is limited to brand(s) {} and may not {what}: that affects every brand; use a key without --brands",
                self.name,
                scope.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// Refused when the key is scoped to other brands.
    pub fn require_brand(&self, brand_code: &str) -> AppResult<()> {
        match &self.brand_scope {
            Some(scope)
                if !scope
                    .iter()
                    .any(|b| b.eq_ignore_ascii_case(brand_code.trim())) =>
            {
                Err(AppError::Forbidden(format!(
                    "the key \"{}\" may only act for brand(s) {}, not {}",
                    self.name,
                    scope.join(", "),
                    brand_code.trim()
                )))
            }
            _ => Ok(()),
        }
    }

    pub fn require(&self, p: Permission) -> AppResult<()> {
        if self.role.allows(p) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "the {} key \"{}\" may not do this: it needs permission to {}",
                self.role.as_str(),
                self.name,
                p.describe()
            )))
        }
    }
}

/// Names that stand for the server itself in ticket history; a key may not take one, so no
/// key can pass for the operator at the terminal or an automatic actor.
pub const RESERVED_KEY_NAMES: &[&str] = &[
    "local-operator",
    "auto-heal",
    "system",
    "worker",
    "unauthenticated",
];

fn is_reserved_name(name: &str) -> bool {
    RESERVED_KEY_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name.trim()))
}

/// A key's stored brand scope. Anything unreadable is an error, never "all brands": a key
/// whose limits cannot be known must not work at all.
pub fn parse_brand_scope(stored: Option<&str>) -> AppResult<Option<Vec<String>>> {
    let Some(text) = stored else { return Ok(None) };
    let unreadable = || {
        AppError::Unauthorized(
            "this key's stored brand scope cannot be read, so the key is disabled; revoke it (`omnitraffick keys revoke ID`) and create a new one".into(),
        )
    };
    let codes: Vec<String> = serde_json::from_str(text).map_err(|_| unreadable())?;
    if codes.is_empty()
        || codes
            .iter()
            .any(|c| crate::domain::Code::parse("brands", c).is_err())
    {
        return Err(unreadable());
    }
    Ok(Some(codes))
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random key: "otk_" and 64 hex characters (two v4 UUIDs, 244 random bits).
fn new_key() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("otk_{}{}", a.simple(), b.simple())
}

/// Create a key; returns the key in clear (show it once) and its id.
pub async fn create_key(db: &Db, name: &str, role: Role) -> AppResult<(String, i64)> {
    create_scoped_key(db, name, role, None).await
}

/// Create a key limited to some brands (for tracker keys); `None` for all brands.
pub async fn create_scoped_key(
    db: &Db,
    name: &str,
    role: Role,
    brands: Option<Vec<String>>,
) -> AppResult<(String, i64)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::validation(
            "name",
            "give the key a name, e.g. --name claude-desktop",
        ));
    }
    if is_reserved_name(name) {
        return Err(AppError::validation(
            "name",
            format!(
                "\"{name}\" is reserved for the server's own actors ({}); name the key after who uses it, e.g. --name claude-desktop",
                RESERVED_KEY_NAMES.join(", ")
            ),
        ));
    }
    let key = new_key();
    let mut conn = db.pool().acquire().await?;
    let scope: Option<Vec<String>> = match brands {
        Some(b) => {
            let codes = b
                .iter()
                .map(|c| crate::domain::Code::parse("brands", c).map(|c| c.as_str().to_owned()))
                .collect::<AppResult<Vec<_>>>()?;
            if codes.is_empty() {
                return Err(AppError::validation(
                    "brands",
                    "list at least one brand code, e.g. --brands AUR,NWS",
                ));
            }
            Some(codes)
        }
        None => None,
    };
    let id = store::insert_key(
        &mut conn,
        name,
        role.as_str(),
        &hash_key(&key),
        &key[..12],
        scope.as_deref(),
    )
    .await?;
    Ok((key, id))
}

const CACHE_TTL: Duration = Duration::from_secs(30);

/// Validates bearer keys, remembering good ones for a short while so a busy client does not
/// cost a database round trip per request. A revoked key stops working within `CACHE_TTL`.
#[derive(Default)]
pub struct KeyVerifier {
    cache: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl KeyVerifier {
    pub async fn verify(&self, db: &Db, presented: &str) -> AppResult<Principal> {
        let hash = hash_key(presented.trim());
        if let Ok(cache) = self.cache.lock()
            && let Some((p, at)) = cache.get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(p.clone());
        }
        let mut conn = db.pool().acquire().await?;
        let Some((id, name, role, brand_scope)) = store::find_live_key(&mut conn, &hash).await?
        else {
            return Err(AppError::Unauthorized(
                "the bearer key is unknown or revoked; create one with `omnitraffick keys create --role ROLE --name NAME`".into(),
            ));
        };
        let brand_scope = parse_brand_scope(brand_scope.as_deref())?;
        drop(conn);
        // Through the writer like every other write (on SQLite a write on a pool connection
        // would wait on the file lock behind the writer's group).
        let mut tx = db.begin_write().await?;
        store::touch_key(&mut tx, id).await?;
        tx.commit().await?;
        // A key stored under a reserved name before names were checked still works, but never
        // under the name of the server's own actors.
        let name = if is_reserved_name(&name) {
            format!("key:{name}")
        } else {
            name
        };
        let principal = Principal {
            name,
            role: Role::parse(&role)?,
            brand_scope,
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(hash, (principal.clone(), Instant::now()));
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_have_sensible_permissions() {
        use Permission::*;
        assert!(Role::Viewer.allows(Read));
        assert!(!Role::Viewer.allows(Traffic));
        assert!(!Role::Trafficker.allows(Govern));
        assert!(Role::Admin.allows(Govern));
        assert!(Role::Ops.allows(Review) && !Role::Planner.allows(Review));
        assert!(Role::Tracker.allows(Track) && !Role::Tracker.allows(Read));
    }

    #[test]
    fn keys_are_random_and_hashed() {
        let a = new_key();
        let b = new_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 68);
        assert_eq!(hash_key(&a).len(), 64);
        assert_ne!(hash_key(&a), a);
    }
}

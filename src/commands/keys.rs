//! `omnitraffick keys create|list|revoke`.

use omnitraffick::auth::{self, Role};
use omnitraffick::config::{Cli, KeysCommand};
use omnitraffick::{startup, store};

pub async fn run(cli: &Cli, cmd: &KeysCommand) -> anyhow::Result<()> {
    let (db, _) = startup::open_with(&cli.database_url, cli.app_options()).await?;
    match cmd {
        KeysCommand::Create { role, name, brands } => {
            let role = Role::parse(role)?;
            let scope = (!brands.is_empty()).then(|| brands.clone());
            let (key, id) = auth::create_scoped_key(&db, name, role, scope).await?;
            println!(
                "Created {} key #{id} \"{}\". Store it now: it is shown only once.",
                role.as_str(),
                name.trim()
            );
            println!("{key}");
        }
        KeysCommand::List => {
            let mut conn = db.pool().acquire().await?;
            let keys = store::list_keys(&mut conn).await?;
            if keys.is_empty() {
                println!(
                    "no keys yet; create one with `omnitraffick keys create --role admin --name NAME`"
                );
            }
            for k in keys {
                let scope = match auth::parse_brand_scope(k.brand_scope.as_deref()) {
                    Ok(None) => "all brands".to_owned(),
                    Ok(Some(codes)) => format!("brands {}", codes.join(",")),
                    Err(_) => "UNREADABLE SCOPE (key disabled)".to_owned(),
                };
                println!(
                    "#{:<4} {:<11} {:<24} {}…  {:<20} created {}{}",
                    k.id,
                    k.role,
                    k.name,
                    k.key_prefix,
                    scope,
                    k.created_at,
                    if k.revoked { "  REVOKED" } else { "" }
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let mut conn = db.pool().acquire().await?;
            if store::revoke_key(&mut conn, *id).await? {
                println!("key #{id} revoked");
            } else {
                anyhow::bail!("no live key #{id}; `omnitraffick keys list` shows the ids");
            }
        }
    }
    db.close().await;
    Ok(())
}

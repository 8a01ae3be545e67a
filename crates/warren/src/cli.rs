//! The `warren` command line: parse, load settings, run one subcommand.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use control_plane::admin;
use settings::Settings;

use crate::{serve, telemetry};

/// Warren: a self-hostable sandbox platform speaking the Hopx API.
#[derive(Debug, Parser)]
#[command(name = "warren", version)]
pub struct Cli {
    /// A TOML settings file (see config/warren.example.toml). Environment variables WARREN_SECTION__KEY
    /// override it.
    #[arg(long, global = true, env = "WARREN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Default: `serve`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the control-plane API (the default). With no database.url configured: the embedded
    /// mode, see docs/operations.md.
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Build the built-in template images (warren/template-*:latest) the Docker engine lacks, from the
    /// Dockerfiles embedded in this binary, then exit.
    Images,
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Serve Warren's MCP tools over stdin/stdout (for desktop MCP clients), calling the Warren at
    /// --url with --api-key; see docs/mcp.md. Needs no database or settings file.
    Mcp {
        /// The Warren to call, e.g. http://localhost:8080.
        #[arg(long, env = "WARREN_URL")]
        url: String,
        /// The API key every call presents.
        #[arg(long, env = "WARREN_API_KEY", hide_env_values = true)]
        api_key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization.
    Create {
        /// Its unique name.
        name: String,
        /// Requests per rate window for this organization (default: limits.rate_limit).
        #[arg(long)]
        rate_limit: Option<u32>,
        /// Sandboxes it may hold at once (default: limits.max_live_sandboxes).
        #[arg(long)]
        max_sandboxes: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; the key is printed once, as the last line of the output.
    Create {
        /// The organization the key belongs to.
        #[arg(long)]
        org: String,
        /// A label to recognise the key by.
        #[arg(long)]
        name: Option<String>,
    },
    /// List an organization's keys (never the secrets).
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke a key by its id (as `key list` shows it).
    Revoke {
        /// The key id.
        id: String,
    },
}

/// Entry point of the binary.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // stdout is the MCP channel: no settings, no database; logs (stderr) at warnings only.
    if let Some(Command::Mcp { url, api_key }) = &cli.command {
        telemetry::init(&settings::LogSettings {
            filter: "warn".to_owned(),
            ..Default::default()
        });
        return mcp::serve_stdio(url, api_key).await;
    }
    let mut settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(&settings.log);
    let command = cli.command.unwrap_or(Command::Serve);
    // Every command but `images` needs the database: in the embedded mode, its cluster.
    let embedded = match command {
        Command::Images => None,
        _ => embedded_postgres::open(&mut settings, matches!(command, Command::Serve)).await?,
    };
    let pool = || db::pool(&settings.database).context("invalid database settings");
    match command {
        Command::Serve => serve::run(settings, embedded.is_some()).await?,
        Command::Images => serve::ensure_images(&settings).await?,
        Command::Migrate => {
            db::MIGRATOR
                .run(&pool()?)
                .await
                .context("migration failed")?;
            println!("migrations applied");
        }
        Command::Org(OrgCommand::Create {
            name,
            rate_limit,
            max_sandboxes,
        }) => {
            let org = admin::create_org(&pool()?, &name, rate_limit, max_sandboxes).await?;
            println!("created organization {} (id {})", org.name, org.id);
        }
        Command::Key(KeyCommand::Create { org, name }) => {
            let (key, full) = admin::create_key(&pool()?, &org, name.as_deref()).await?;
            println!(
                "created API key {} for organization {org}; it is shown only once:",
                key.key_id
            );
            println!("{full}");
        }
        Command::Key(KeyCommand::List { org }) => {
            println!(
                "{:<18} {:<20} {:<22} {:<22} REVOKED",
                "ID", "NAME", "CREATED", "LAST USED"
            );
            let ts = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_owned(), |t| api_types::timestamp::format(&t))
            };
            for k in admin::list_keys(&pool()?, &org).await? {
                println!(
                    "{:<18} {:<20} {:<22} {:<22} {}",
                    k.key_id,
                    k.name.as_deref().unwrap_or("-"),
                    api_types::timestamp::format(&k.created_at),
                    ts(k.last_used_at),
                    ts(k.revoked_at),
                );
            }
        }
        Command::Key(KeyCommand::Revoke { id }) => {
            admin::revoke_key(&pool()?, &id).await?;
            println!("revoked API key {id}");
        }
        Command::Mcp { .. } => unreachable!("served above"),
    }
    Ok(())
}

//! The example's `main`: command line, store, app key, bootstrap, mailer,
//! server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use iamkit::Config;
use iamkit::credentials::{SecretBytes, XChaChaSealer};
use iamkit_store_sqlite::SqliteStore;
use rand::Rng as _;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

use super::bootstrap::{FirstOwnerSpec, bootstrap_first_owner};
use super::{AppState, ServiceConfig, build_iam, serve};
use iamkit_axum::Origin;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The environment variable holding the app key (64 hex digits), which
/// seals the link secrets waiting in the outbox.
pub const APP_KEY_VAR: &str = "IAMKIT_APP_KEY";

/// How often the dev mailer drains the outbox.
const MAILER_EVERY: Duration = Duration::from_secs(1);

const USAGE: &str = "\
usage: axum_service [--memory | --db PATH] [--listen ADDR] [--public-url URL]
                    [--allowed-origin ORIGIN]...
                    [--bootstrap-owner EMAIL [--owner-name \"FIRST LAST\"]
                     [--org-name NAME] [--org-slug SLUG]]

  --memory           SQLite in memory (gone on exit) instead of a file
  --db PATH          SQLite file (default iamkit-axum.sqlite3)
  --listen ADDR      address to serve on (default 127.0.0.1:3000)
  --public-url URL   base of the links the dev mailer prints
                     (default http://ADDR)
  --allowed-origin ORIGIN
                     another origin (scheme://host[:port]) whose pages may
                     send state-changing requests, e.g. a front end on its
                     own host; repeatable. The public URL's origin (on a
                     loopback host also its localhost, 127.0.0.1 and [::1]
                     spellings) is always allowed; browser requests from
                     any other origin that change state are refused (403)
  --bootstrap-owner  create the organization and its first Owner, once,
                     and print a one-time link to set the Owner's password

The app key sealing outbox links comes from IAMKIT_APP_KEY (64 hex digits);
without it, a file beside the database (PATH.key, mode 0600) is used or
created, and an in-memory store gets a fresh key each run.";

/// Which database the service runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// SQLite in memory: everything is gone on exit.
    Memory,
    /// A SQLite file, created and migrated as needed.
    File(PathBuf),
}

/// The command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// The database.
    pub store: StoreChoice,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The base of links; `http://{listen}` when not given.
    pub public_url: Option<String>,
    /// Origins allowed besides the public URL's.
    pub allowed_origins: Vec<Origin>,
    /// The first Owner to bootstrap, if asked.
    pub bootstrap: Option<FirstOwnerSpec>,
}

impl Options {
    /// Parses the arguments after the program name; the error is the text
    /// to show (the usage for `--help`).
    ///
    /// # Errors
    /// An unknown flag, a flag without its value, an unparsable address.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut store = StoreChoice::File(PathBuf::from("iamkit-axum.sqlite3"));
        let mut listen = SocketAddr::from(([127, 0, 0, 1], 3000));
        let mut public_url = None;
        let mut allowed_origins = Vec::new();
        let mut owner_email = None;
        let mut owner_name = None;
        let mut org_name = "My Organization".to_owned();
        let mut org_slug = "main".to_owned();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
            };
            match flag.as_str() {
                "--memory" => store = StoreChoice::Memory,
                "--db" => store = StoreChoice::File(PathBuf::from(value()?)),
                "--listen" => {
                    listen = value()?
                        .parse()
                        .map_err(|e| format!("--listen: {e}\n\n{USAGE}"))?;
                }
                "--public-url" => {
                    let url = value()?;
                    // Checked here, before anything is opened or created:
                    // the allowed origins derive from it.
                    Origin::of_url(&url).map_err(|e| format!("--public-url: {e}\n\n{USAGE}"))?;
                    public_url = Some(url);
                }
                "--allowed-origin" => allowed_origins.push(
                    Origin::parse(&value()?)
                        .map_err(|e| format!("--allowed-origin: {e}\n\n{USAGE}"))?,
                ),
                "--bootstrap-owner" => owner_email = Some(value()?),
                "--owner-name" => owner_name = Some(value()?),
                "--org-name" => org_name = value()?,
                "--org-slug" => org_slug = value()?,
                "--help" | "-h" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            }
        }
        let bootstrap = owner_email.map(|email| {
            FirstOwnerSpec::for_email(&email, owner_name.as_deref(), &org_name, &org_slug)
        });
        Ok(Self {
            store,
            listen,
            public_url,
            allowed_origins,
            bootstrap,
        })
    }
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fresh_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    UnwrapErr(SysRng).fill_bytes(&mut key);
    key
}

/// The app key: `IAMKIT_APP_KEY`, else the key file beside the database
/// (created once, readable by its owner only), else — in memory, where
/// nothing outlives the process anyway — a fresh one.
fn app_key(store: &StoreChoice) -> Result<XChaChaSealer, AnyError> {
    let key = match (std::env::var(APP_KEY_VAR), store) {
        (Ok(hex), _) => {
            hex_decode(&hex).ok_or_else(|| format!("{APP_KEY_VAR} must be 64 hex digits"))?
        }
        (Err(_), StoreChoice::Memory) => fresh_key(),
        (Err(_), StoreChoice::File(db)) => key_file(db)?,
    };
    Ok(XChaChaSealer::new(&SecretBytes::new(key))?)
}

fn key_file(db: &Path) -> Result<Vec<u8>, AnyError> {
    let mut path = db.as_os_str().to_owned();
    path.push(".key");
    let path = PathBuf::from(path);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(hex_decode(&text).ok_or_else(|| format!("{} is not hex", path.display()))?);
    }
    let key = fresh_key();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    std::io::Write::write_all(&mut file, hex_encode(&key).as_bytes())?;
    eprintln!("(app key created in {})", path.display());
    Ok(key)
}

/// Runs the service until Ctrl-C.
///
/// # Errors
/// The store cannot be opened or migrated, the app key is unusable, the
/// public URL has no http(s) origin, the bootstrap is refused, or the
/// address cannot be bound.
pub async fn run(options: Options) -> Result<(), AnyError> {
    let store = match &options.store {
        StoreChoice::Memory => {
            eprintln!("(store: SQLite, in memory)");
            SqliteStore::in_memory().await?
        }
        StoreChoice::File(path) => {
            eprintln!("(store: SQLite file {})", path.display());
            SqliteStore::open(path).await?
        }
    };
    store.migrate().await?;
    let iam = build_iam(store, app_key(&options.store)?, Config::default())?;
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let local = listener.local_addr()?;
    let public_url = options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let mut config = ServiceConfig::for_public_url(&public_url)
        .map_err(|e| format!("--public-url {public_url:?}: {e}"))?;
    config
        .api
        .allowed_origins
        .extend(options.allowed_origins.iter().cloned());
    if let Some(spec) = &options.bootstrap {
        match bootstrap_first_owner(&iam, spec).await? {
            Some(done) => {
                // The operator's console is the out-of-band channel for the
                // one-time link (see the bootstrap module).
                println!(
                    "bootstrapped organization {:?} ({}) with Owner {} ({})",
                    spec.org_name, done.bootstrapped.org, spec.owner.email, done.bootstrapped.owner
                );
                println!(
                    "set the Owner's password once, within 24 h:\n  curl -s {public_url}/password-resets/complete \
                     -H 'content-type: application/json' -d '{{\"token\": \"{}\", \"password\": \"…\"}}'",
                    done.setup_link.expose()
                );
            }
            None => println!(
                "organization {:?} already exists; nothing bootstrapped",
                spec.org_slug
            ),
        }
    }
    let state = AppState::new(iam, &config);
    let mailer = state.mailer.spawn(MAILER_EVERY);
    println!("listening on http://{local}");
    let origins: Vec<String> = config
        .api
        .allowed_origins
        .iter()
        .map(ToString::to_string)
        .collect();
    println!(
        "state-changing browser requests accepted from {}",
        origins.join(", ")
    );
    let shutdown = async {
        // Without a Ctrl-C handler the server runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let served = serve(listener, state, shutdown).await;
    mailer.abort();
    Ok(served?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn flags_parse() {
        let o = parse(&[
            "--memory",
            "--listen",
            "127.0.0.1:0",
            "--bootstrap-owner",
            "ada@acme.example",
            "--org-slug",
            "acme",
            "--allowed-origin",
            "https://console.acme.example",
        ])
        .unwrap();
        assert_eq!(o.store, StoreChoice::Memory);
        assert_eq!(o.listen.port(), 0);
        let spec = o.bootstrap.unwrap();
        assert_eq!(spec.org_slug, "acme");
        assert_eq!(spec.owner.username, "ada");
        assert_eq!(
            o.allowed_origins,
            vec![Origin::parse("https://console.acme.example").unwrap()]
        );
        assert!(parse(&["--allowed-origin", "https://console.acme.example/app"]).is_err());
        assert!(parse(&["--allowed-origin", "null"]).is_err());
        assert!(parse(&["--public-url", "app.example"]).is_err());
        assert_eq!(
            parse(&["--public-url", "https://app.example/iam"])
                .unwrap()
                .public_url
                .as_deref(),
            Some("https://app.example/iam")
        );
        assert!(parse(&["--db"]).is_err());
        assert!(parse(&["--nope"]).is_err());
        assert!(parse(&["--listen", "nowhere"]).is_err());
    }

    #[test]
    fn hex_round_trips() {
        let key = fresh_key();
        assert_eq!(hex_decode(&hex_encode(&key)), Some(key));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
    }
}

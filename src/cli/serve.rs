//! `pdca serve`: compile and deploy the definitions, then host the runtime
//! over HTTP with a background worker ticking the engine.
//!
//! Definitions that do not compile stop it before it listens (exit 1).
//! SIGTERM or SIGINT stops accepting connections, lets the requests in
//! flight finish, stops the worker between ticks, closes the database and
//! exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::watch;

use crate::diag::render;
use crate::runtime::store::{redact, DEFAULT_URL};
use crate::runtime::Engine;
use crate::server::{self, auth::Tokens, AppState};
use crate::{compile, load};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// Database: `sqlite://FILE` (created on first use) or `postgres://USER@HOST/DB`
    #[arg(long, value_name = "URL", default_value = DEFAULT_URL)]
    db: String,
    /// Folder of process definitions, deployed at start
    #[arg(long, value_name = "DIR", default_value = "processes/")]
    processes: PathBuf,
    /// Address to listen on (port 0: any free port, printed at start)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Tokens file (TOML, or JSON for `.json`) of SHA-256 token hashes; see `pdca token new`
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// How often the worker fires due timers and SLA breaches: `500ms`, `1s`, `2m`
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    tick_interval: Duration,
    /// Do not run the worker (another replica ticks)
    #[arg(long)]
    no_worker: bool,
    /// How long an `Idempotency-Key` is honoured; the worker forgets older ones: `30m`, `24h`
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_interval)]
    idempotency_retention: Duration,
    /// Log format on standard error (filter with RUST_LOG, default `info`)
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// `250ms`, `1s`, `2m`, `1h`: a positive interval.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as `1s` or `500ms`"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("unknown unit in `{text}`: use ms, s, m or h")),
    };
    if d.is_zero() {
        return Err("the duration must be positive".into());
    }
    Ok(d)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second initialisation (tests in one process) is harmless.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub fn run(args: Args) -> ExitCode {
    init_logging(args.log_format);
    let inputs = match load::collect(std::slice::from_ref(&args.processes)) {
        Ok(inputs) if !inputs.is_empty() => inputs,
        Ok(_) => {
            return super::runtime::usage(format!(
                "no .pdca files found in `{}`",
                args.processes.display()
            ))
        }
        Err(e) => return super::runtime::usage(e),
    };
    let compilation = compile(inputs);
    let Some(program) = compilation.program.clone() else {
        eprint!(
            "{}",
            render::human(&compilation.sources, &compilation.diagnostics, false)
        );
        eprintln!(
            "error: the definitions in `{}` have {} error(s); not serving",
            args.processes.display(),
            compilation.errors()
        );
        return ExitCode::from(super::EXIT_FINDINGS);
    };
    let tokens = match &args.tokens {
        Some(path) => match Tokens::load(path) {
            Ok(t) => t,
            Err(e) => return super::runtime::usage(e),
        },
        None => Tokens::none(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::runtime::usage(format!("cannot start the async runtime: {e}")),
    };
    match rt.block_on(serve(args, program, tokens)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::from(super::EXIT_USAGE)
        }
    }
}

async fn serve(args: Args, program: crate::ir::Program, tokens: Tokens) -> Result<(), String> {
    let shown = redact(&args.db);
    let (engine, report) = connect_and_deploy(&args.db, &program).await?;
    for p in &report.processes {
        tracing::info!(process = %p.process, version = p.version, status = ?p.status, "deployed");
    }
    if tokens.is_empty() {
        tracing::warn!("no tokens configured (--tokens FILE): every protected route answers 401");
    } else {
        tracing::info!(tokens = tokens.len(), "tokens loaded");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let state = AppState::new(engine, program, tokens);
    state.set_idempotency_retention(args.idempotency_retention);

    let (stop, stopped) = watch::channel(false);
    let signal = shutdown_signal()?;
    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop.send(true);
    });
    let worker = (!args.no_worker)
        .then(|| server::worker::spawn(state.clone(), args.tick_interval, stopped.clone()));

    tracing::info!(%addr, db = %shown, "listening");
    // Scripts starting on port 0 read the address from this line.
    println!("listening on http://{addr}");
    let mut on_stop = stopped.clone();
    let served = server::serve(listener, state.clone(), async move {
        let _ = on_stop.wait_for(|s| *s).await;
    })
    .await;
    if let Some(worker) = worker {
        if let Err(e) = worker.await {
            tracing::error!(error = %e, "the worker ended abnormally");
        }
    }
    state.engine().store().close().await;
    served.map_err(|e| format!("the server failed: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// Connects (migrating the schema) and deploys. Replicas starting together
/// on one database need no retry here: migrations retry a lost race
/// themselves and deploys queue on a lock (see `store::migrate` and
/// `Engine::deploy`).
async fn connect_and_deploy(
    url: &str,
    program: &crate::ir::Program,
) -> Result<(Engine, crate::runtime::engine::DeployReport), String> {
    let engine = Engine::connect(url).await.map_err(|e| e.to_string())?;
    match engine.deploy(program).await {
        Ok(report) => Ok((engine, report)),
        Err(e) => {
            engine.store().close().await;
            Err(e.to_string())
        }
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C). The handlers are installed
/// when this is called, not when the future is first polled, so a signal
/// sent right after the server said it listens is not missed.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let watch = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("cannot watch {name}: {e}"))
        };
        let mut term = watch(SignalKind::terminate(), "SIGTERM")?;
        let mut int = watch(SignalKind::interrupt(), "SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("1d").is_err());
        assert!(parse_interval("fast").is_err());
    }
}

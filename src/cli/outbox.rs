//! `pdca outbox`: list the notifications written by `on enter` and SLA
//! breaches.

use std::process::ExitCode;

use super::runtime::{self, DbArgs, Format};

#[derive(clap::Args)]
pub struct Args {
    /// Only the notifications not sent yet
    #[arg(long)]
    pending: bool,
    #[command(flatten)]
    db: DbArgs,
}

pub fn run(args: Args) -> ExitCode {
    let db = args.db;
    let pending = args.pending;
    let result = runtime::block_on(async {
        let engine = runtime::connect(&db).await?;
        let rows = engine
            .outbox(pending)
            .await
            .map_err(|e| runtime::fail(&e, db.format));
        engine.store().close().await;
        rows
    });
    let rows = match result {
        Ok(Ok(rows)) => rows,
        Ok(Err(code)) | Err(code) => return code,
    };
    let text = match db.format {
        Format::Json => runtime::json_text(&rows),
        Format::Human => {
            let mut s = String::new();
            for r in &rows {
                let to = match &r.recipient_id {
                    Some(id) => format!("{} ({id})", r.recipient_role),
                    None => r.recipient_role.clone(),
                };
                let sent = r.sent_at.as_deref().unwrap_or("pending");
                s += &format!(
                    "#{} instance {} event {} {} to {}: {} [{}]\n",
                    r.id, r.instance_id, r.event_seq, r.kind, to, r.subject, sent
                );
            }
            s += &format!(
                "{} notification{}\n",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            );
            s
        }
    };
    runtime::emit(&text)
}

//! `chama clean`: retention (`ops/clean.rs` says what it removes and what it never touches).

use crate::cli::CleanArgs;
use crate::config::Config;
use crate::exit::{Code, Outcome};

pub fn clean(config: &Config, args: &CleanArgs) -> anyhow::Result<Outcome> {
    if config.file.is_none() {
        crate::say!("{}", config.origin());
    }
    let keep = args.keep_days.unwrap_or(config.keep_days);
    let mut out = std::io::stdout().lock();
    let c = crate::ops::clean::clean(config, keep, args.dry_run, &mut out)?;
    let verb = if args.dry_run { "would remove" } else { "removed" };
    crate::say!(
        "clean: {verb} {} file(s), {} bytes, of days before {} (keep_days = {keep})",
        c.files,
        c.bytes,
        c.cutoff
    );
    if c.abandoned > 0 {
        crate::say!("clean: {verb} {} hidden entr(ies) left by killed runs", c.abandoned);
    }
    Ok(Code::Ok.into())
}

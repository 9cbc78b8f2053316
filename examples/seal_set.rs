//! Makes the data files already in a directory a built set of batch 00, as
//! `chama build` would leave it (`.verf` and `manifest.json`), through the
//! library: for benchmarks that need sets of a given size without building.
//!
//! Usage: seal_set DIR IFACE PERIOD VERF_NAME ROWS_PER_FILE FILE...

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 6,
        "usage: seal_set DIR IFACE PERIOD VERF_NAME ROWS_PER_FILE FILE..."
    );
    let period: chama::period::Period = args[2].parse().map_err(anyhow::Error::msg)?;
    let rows: u64 = args[4].parse()?;
    let files: Vec<(String, u64)> = args[5..].iter().map(|f| (f.clone(), rows)).collect();
    chama::ops::sets::seal(std::path::Path::new(&args[0]), &args[1], &period, &args[3], &files)?;
    Ok(())
}

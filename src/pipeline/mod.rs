//! One hour, one pass: read -> transform -> encode -> split -> compress -> write.
//!
//! Threads: this one reads, transforms, encodes and cuts blocks; `workers`
//! compressors deflate blocks; one writer puts each file's blocks in order,
//! hashes them and renames each finished file into place. Channels are
//! bounded, so memory stays bounded whatever the input size. Workers return
//! errors instead of panicking; the first error stops the hour.

mod read;
mod rejects;
mod write;

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Context};
use crossbeam_channel::{bounded, Receiver, Sender};

use crate::compress::deflate_block;
use crate::manifest::{Counts, FileEntry};
use crate::period::{Batch, Day};
use crate::source::local::InputFile;
use crate::spec::Spec;
use crate::split::{Block, Splitter};
use crate::sql::Program;
use read::{read_and_split, Stopped};
pub use rejects::Reject;
use write::{write_loop, Compressed, Done, ToWriter};

/// What to build and where.
pub struct HourJob<'a> {
    pub spec: &'a Spec,
    pub program: &'a Program,
    /// `YYYYMMDD`.
    pub date: Day,
    pub hour: u8,
    pub batch: Batch,
    pub inputs: &'a [InputFile],
    /// Where the data files go; `None` computes everything and writes nothing (dry run).
    pub out_dir: Option<&'a Path>,
    /// Compressor threads.
    pub workers: usize,
    /// Fixed `.verf` file time (`SOURCE_DATE_EPOCH`), else the time each file completes.
    pub fixed_time: Option<String>,
    /// Where rejected lines go (`rejects/<iface>/<date>/<HH>.rej.gz`); `None` in a dry run.
    pub rejects_path: Option<&'a Path>,
    /// The input's columns: the spec's, or a Parquet schema's when the spec names none.
    pub columns: &'a [String],
    /// Advanced by input bytes read; its message counts rows. Hidden off a terminal.
    pub progress: &'a indicatif::ProgressBar,
    /// Stream the inputs from this source and directory instead of local
    /// paths (`build --no-stage`); text input only.
    pub stream_from: Option<(&'a dyn crate::source::Source, &'a str)>,
}

/// A set as built: its split value and its files in sequence order.
pub struct BuiltSet {
    pub split: Option<String>,
    pub rows: u64,
    pub files: Vec<FileEntry>,
}

pub struct HourOutput {
    pub counts: Counts,
    pub sets: Vec<BuiltSet>,
    pub rejects: Vec<Reject>,
    pub seconds: f64,
}

/// Builds one hour into `job.out_dir` (files under their final names there,
/// each written under a temporary name first). Returns what was built; the
/// caller writes `.verf`, manifest and rejects.
pub fn build_hour(job: &HourJob<'_>) -> anyhow::Result<HourOutput> {
    let started = Instant::now();
    let workers = job.workers.max(1);
    let (block_tx, block_rx) = bounded::<Block>(workers * 2);
    let (write_tx, write_rx) = bounded::<ToWriter>(workers * 4);

    let result = std::thread::scope(|scope| -> anyhow::Result<(Counts, Vec<Reject>, Splitter, Vec<Done>)> {
        let mut compressors = Vec::new();
        for _ in 0..workers {
            let rx = block_rx.clone();
            let tx = write_tx.clone();
            let level = job.spec.output.gzip_level;
            compressors.push(scope.spawn(move || compress_loop(rx, tx, level)));
        }
        drop(block_rx);
        let writer_rx = write_rx;
        let writer = scope.spawn(move || write_loop(writer_rx, job.out_dir, job.fixed_time.as_deref()));

        let read = read_and_split(job, &block_tx, &write_tx);
        drop(block_tx);
        drop(write_tx);
        let mut downstream: Option<anyhow::Error> = None;
        for c in compressors {
            let r = c.join().map_err(|_| anyhow!("a compressor thread panicked"))?;
            if let (Err(e), None) = (r, &downstream) {
                downstream = Some(e);
            }
        }
        let written = writer.join().map_err(|_| anyhow!("the writer thread panicked"))?;
        if let (Err(e), None) = (&written, &downstream) {
            downstream = Some(anyhow!("{e:#}"));
        }
        // When the reader stopped because a compressor or the writer did, their
        // error is the cause; otherwise the reader's own error explains the rest.
        match read {
            Err(e) if e.downcast_ref::<Stopped>().is_some() => Err(downstream.unwrap_or(e)),
            Err(e) => Err(e),
            Ok(_) if downstream.is_some() => Err(downstream.expect("checked")),
            Ok((counts, rejects, splitter)) => Ok((counts, rejects, splitter, written?)),
        }
    });
    // A failed hour's unfinished files went with their writers (`atomic.rs`).
    let (counts, rejects, splitter, done) = result?;

    let mut by_file: HashMap<u32, FileEntry> = done.into_iter().map(|d| (d.file, d.entry)).collect();
    let mut sets = Vec::new();
    for (i, key) in splitter.keys().iter().enumerate() {
        let files = splitter
            .files_of(i)
            .iter()
            .map(|f| by_file.remove(f).expect("every started file is finished"))
            .collect();
        sets.push(BuiltSet {
            split: key.clone(),
            rows: splitter.rows(i),
            files,
        });
    }
    sets.sort_by(|a, b| a.split.cmp(&b.split));
    Ok(HourOutput {
        counts,
        sets,
        rejects,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn compress_loop(rx: Receiver<Block>, tx: Sender<ToWriter>, level: u32) -> anyhow::Result<()> {
    for b in rx {
        let block =
            deflate_block(&b.data, b.prev.as_deref().map(Vec::as_slice), b.at.last, level).context("compressing")?;
        let msg = ToWriter::Block(Compressed { at: b.at, block });
        if tx.send(msg).is_err() {
            break; // the writer failed; its error is reported
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::BlockAt;
    use std::sync::Arc;

    /// Text blocks of 200 KB to 1.1 MB, shaped like output rows.
    fn blocks() -> Vec<Arc<Vec<u8>>> {
        let mut x: u64 = 12345;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..40)
            .map(|_| {
                let len = 200_000 + (rnd() % 900_000) as usize;
                let mut b = Vec::with_capacity(len + 100);
                while b.len() < len {
                    let r = rnd();
                    let row = format!(
                        "2024-12-12 00:{:02}:{:02}|h5.10086.cn/{}|{}|中文{}\n",
                        r % 60,
                        (r >> 8) % 60,
                        r % 1000,
                        r % 77777,
                        r % 13
                    );
                    b.extend_from_slice(row.as_bytes());
                }
                b.truncate(len);
                Arc::new(b)
            })
            .collect()
    }

    /// One compressor thread's output for these blocks, fed in this order.
    fn compress_in(order: &[usize], data: &[Arc<Vec<u8>>]) -> HashMap<u32, Vec<u8>> {
        let (tx, rx) = bounded(order.len());
        let (wtx, wrx) = bounded(order.len());
        for &i in order {
            tx.send(Block {
                at: BlockAt {
                    file: i as u32,
                    idx: 0,
                    last: true,
                    rows: 0,
                },
                data: data[i].clone(),
                prev: i.checked_sub(1).map(|p| data[p].clone()),
            })
            .unwrap();
        }
        drop(tx);
        compress_loop(rx, wtx, 6).unwrap();
        wrx.iter()
            .map(|m| match m {
                ToWriter::Block(c) => (c.at.file, c.block.bytes),
                ToWriter::Start(_) => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn a_block_compresses_to_the_same_bytes_whatever_its_thread_did_before() {
        // With one deflate state reset between blocks, blocks 4 and 30 came
        // out differently in the two orders (zlib-rs keeps the old window).
        let data = blocks();
        let forward: Vec<usize> = (0..data.len()).collect();
        let backward: Vec<usize> = forward.iter().rev().copied().collect();
        let a = compress_in(&forward, &data);
        let b = compress_in(&backward, &data);
        let differ: Vec<&u32> = a.keys().filter(|k| a[k] != b[k]).collect();
        assert!(differ.is_empty(), "blocks {differ:?} differ with the order");
    }
}

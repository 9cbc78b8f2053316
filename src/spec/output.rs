//! The `[output]` and `[delivery]` sections: the files a set becomes and where they go.

use super::raw::{RawDelivery, RawOutput};
use super::{Cadence, Delivery, Names, Output, Placeholder, Template, Validator};

impl Validator<'_, '_> {
    pub(super) fn output(
        &mut self,
        raw: RawOutput,
        outputs: Option<&[String]>,
        cadence: Option<Cadence>,
    ) -> Option<Output> {
        use Placeholder::*;
        let mut ok = true;
        if raw.delimiter.is_empty() {
            self.problem(
                &["output", "delimiter"],
                "the output delimiter must not be empty".into(),
            );
            ok = false;
        }
        if raw.lines_per_file == 0 {
            self.problem(
                &["output", "lines_per_file"],
                "lines_per_file must be at least 1".into(),
            );
            ok = false;
        }
        if !(1..=9).contains(&raw.seq_width) {
            self.problem(
                &["output", "seq_width"],
                format!("seq_width {} must be 1 to 9", raw.seq_width),
            );
            ok = false;
        }
        if raw.gzip_level > 9 {
            self.problem(
                &["output", "gzip_level"],
                format!("gzip_level {} must be 0 to 9", raw.gzip_level),
            );
            ok = false;
        }
        if let (Some(col), Some(outs)) = (&raw.split_by, outputs) {
            if !outs.contains(col) {
                let hint = crate::suggest::hint(col, outs);
                self.problem(
                    &["output", "split_by"],
                    format!("split_by names `{col}`, which is not an output column{hint}"),
                );
                ok = false;
            }
        }
        let hourly = cadence == Some(Cadence::Hourly);
        let mut allowed = vec![Date, DateIso, Split, Batch];
        if hourly {
            allowed.push(Hour);
        }
        let split = raw.split_by.is_some();
        let template = |v: &mut Self, key: &str, text: &str, with_seq: bool| -> Option<Template> {
            let mut allowed = allowed.clone();
            if with_seq {
                allowed.push(Seq);
            }
            let t = match Template::parse(text, &allowed) {
                Ok(t) => t,
                Err(e) => {
                    let why = if e.contains("{hour}") && !hourly {
                        format!("{e} (only with cadence = \"hourly\")")
                    } else {
                        e
                    };
                    v.problem(&["output", key], format!("{key} {why}"));
                    return None;
                }
            };
            let mut fine = true;
            if text.contains('/') || text.contains('\\') {
                v.problem(
                    &["output", key],
                    format!("{key} `{text}` must be a file name, not a path"),
                );
                fine = false;
            }
            if with_seq && !t.uses(Seq) {
                v.problem(
                    &["output", key],
                    format!("{key} `{text}` must contain {{seq}}, or every file of a set gets the same name"),
                );
                fine = false;
            }
            if split && !t.uses(Split) {
                v.problem(
                    &["output", key],
                    format!("{key} `{text}` must contain {{split}}: the spec splits by a column"),
                );
                fine = false;
            }
            if !split && t.uses(Split) {
                v.problem(
                    &["output", key],
                    format!("{key} `{text}` uses {{split}}, but the spec sets no split_by"),
                );
                fine = false;
            }
            if !t.uses(Date) && !t.uses(DateIso) {
                v.problem(
                    &["output", key],
                    format!("{key} `{text}` must contain {{date}}: the account period"),
                );
                fine = false;
            }
            fine.then_some(t)
        };
        let file_name = template(self, "file_name", &raw.file_name, true);
        let verf_name = template(self, "verf_name", &raw.verf_name, false);
        let (file_name, verf_name) = (file_name?, verf_name?);
        // Every data file's name goes in the .verf's name column, with the widest sequence.
        let longest = file_name.longest_split(raw.seq_width, crate::verf::NAME);
        if longest.is_none_or(|n| n == 0) {
            let what = if split { " with a one-character split value" } else { "" };
            self.problem(
                &["output", "file_name"],
                format!(
                    "file_name `{}` cannot fit the .verf's {}-character name column{what} at the widest sequence ({} digits)",
                    file_name.as_str(),
                    crate::verf::NAME,
                    raw.seq_width
                ),
            );
            ok = false;
        }
        if file_name.as_str() == verf_name.as_str() {
            self.problem(&["output", "verf_name"], "verf_name must differ from file_name".into());
            ok = false;
        }
        ok.then_some(Output {
            delimiter: raw.delimiter,
            null: raw.null,
            encoding: raw.encoding,
            unmappable: raw.unmappable,
            lines_per_file: raw.lines_per_file,
            split_by: raw.split_by,
            file_name,
            verf_name,
            seq_width: raw.seq_width,
            gzip_level: raw.gzip_level,
        })
    }

    pub(super) fn delivery(&mut self, raw: RawDelivery, names: &Names) -> Option<Delivery> {
        let mut ok = true;
        for d in &raw.destinations {
            if !names.destinations.contains(d) {
                self.problem(
                    &["delivery", "destinations"],
                    format!(
                        "destination `{d}` is not defined in chama.toml (defined: {})",
                        names.destinations.join(", ")
                    ),
                );
                ok = false;
            }
        }
        if !raw.remote_dir.starts_with('/') {
            self.problem(
                &["delivery", "remote_dir"],
                format!("remote_dir `{}` must be an absolute path", raw.remote_dir),
            );
            ok = false;
        }
        let deadline = match &raw.deadline {
            None => None,
            Some(t) => match chrono::NaiveTime::parse_from_str(t, "%H:%M") {
                Ok(t) => Some(t),
                Err(_) => {
                    self.problem(
                        &["delivery", "deadline"],
                        format!("deadline `{t}` must be HH:MM, e.g. \"09:00\""),
                    );
                    ok = false;
                    None
                }
            },
        };
        if !(raw.alarm_ratio > 0.0 && raw.alarm_ratio <= 1.0) {
            self.problem(
                &["delivery", "alarm_ratio"],
                format!("alarm_ratio {} must be above 0 and at most 1", raw.alarm_ratio),
            );
            ok = false;
        }
        let mut duration = |key: &'static str, text: &str| match crate::duration::parse(text) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                self.problem(&["delivery", key], format!("{key} `{text}` must be more than 0"));
                None
            }
            Err(e) => {
                self.problem(&["delivery", key], format!("{key}: {e}"));
                None
            }
        };
        let silence_default = match raw.cadence {
            super::Cadence::Daily => "26h",
            super::Cadence::Hourly => "2h",
        };
        let alarm_silence = duration("alarm_silence", raw.alarm_silence.as_deref().unwrap_or(silence_default));
        let alarm_hour_late = duration("alarm_hour_late", &raw.alarm_hour_late);
        ok &= alarm_silence.is_some() && alarm_hour_late.is_some();
        if let Some(q) = raw.queue.as_deref().filter(|q| !super::valid_queue(q)) {
            self.problem(
                &["delivery", "queue"],
                format!("queue `{q}` must be letters, digits, `_`, `-` or `.` (not first)"),
            );
            ok = false;
        }
        ok.then_some(Delivery {
            cadence: raw.cadence,
            destinations: raw.destinations,
            remote_dir: raw.remote_dir,
            deadline,
            alarm_ratio: raw.alarm_ratio,
            alarm_silence: alarm_silence.unwrap_or_default(),
            alarm_hour_late: alarm_hour_late.unwrap_or_default(),
        })
    }
}

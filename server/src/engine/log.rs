//! A job's log: reading stdout and stderr at once, numbering and timing each
//! line, sending it to live subscribers and writing it to the database in
//! batches about once a second.
//!
//! Logs are bounded. The first half of `max_bytes` is kept as it arrives
//! (the head); after that only the newest half is kept (the tail), as a
//! sliding window that is written as it goes, so a crash loses at most the
//! last second. What falls between the two is counted in
//! `log_omitted_bytes`. Memory per job stays near `max_bytes` whatever the
//! script prints.

use crate::db::now_ms;
use crate::store::{PendingLine, Store};
use app::model::{LogLine, LogStream};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{broadcast, mpsc};

/// Longest line kept as one; longer output is split into lines of this size.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
const FLUSH_EVERY: Duration = Duration::from_millis(1000);
/// Head lines waiting for the database past this many bytes are written at
/// once rather than at the next tick, so a fast writer cannot pile them up.
const FLUSH_HEAD_BYTES: i64 = 1024 * 1024;

/// A raw line from a reader.
pub struct Raw {
    pub stream: LogStream,
    pub text: String,
}

/// What a live subscriber can see of a running job's log.
pub struct LiveLog {
    /// New lines as they are numbered.
    pub lines: broadcast::Sender<Arc<LogLine>>,
    /// Lines numbered but not yet in the database; a new subscriber reads
    /// these after the stored ones, so nothing falls in between.
    pub unflushed: Mutex<VecDeque<(Arc<LogLine>, i64)>>,
}

impl Default for LiveLog {
    fn default() -> Self {
        LiveLog {
            lines: broadcast::channel(4096).0,
            unflushed: Mutex::new(VecDeque::new()),
        }
    }
}

/// Totals after the pump ends.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogTotals {
    pub bytes: i64,
    pub omitted: i64,
    pub lines: i64,
}

/// Reads `reader` line by line into `tx`, splitting overlong lines.
pub async fn read_stream<R: AsyncRead + Unpin>(
    reader: R,
    stream: LogStream,
    tx: mpsc::Sender<Raw>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    // `buf` may start with the unfinished character of a line cut at the cap.
    let mut buf = Vec::with_capacity(1024);
    loop {
        // Read up to the newline, or up to the length cap for a runaway line.
        let room = MAX_LINE_BYTES.saturating_sub(buf.len()) as u64;
        let n = match (&mut reader).take(room).read_until(b'\n', &mut buf).await {
            Ok(n) => n,
            Err(_) => break,
        };
        if buf.is_empty() {
            break;
        }
        let mut carry = Vec::new();
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        } else if n > 0 {
            // Cut at the cap: a character split by the cut goes whole into
            // the next piece rather than as two replacement characters.
            if let Err(e) = std::str::from_utf8(&buf) {
                if e.error_len().is_none() {
                    carry = buf.split_off(e.valid_up_to());
                }
            }
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        if tx.send(Raw { stream, text }).await.is_err() {
            break;
        }
        buf.clear();
        buf.extend_from_slice(&carry);
        if n == 0 {
            break;
        }
    }
}

use tokio::io::AsyncReadExt as _;

/// Numbers, caps, publishes and stores the lines arriving on `rx` until
/// every sender is gone, then writes what is left. Returns the totals.
pub async fn pump(
    store: Store,
    job_id: String,
    live: Arc<LiveLog>,
    mut rx: mpsc::Receiver<Raw>,
    max_bytes: u64,
) -> LogTotals {
    let half = (max_bytes / 2).max(1) as i64;
    let mut st = PumpState {
        half,
        ..Default::default()
    };
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            raw = rx.recv() => match raw {
                Some(raw) => {
                    st.push(raw, &live);
                    if st.head_waiting(){
                        st.flush(&store, &job_id, &live).await;
                    }
                }
                None => break,
            },
            _ = tick.tick() => st.flush(&store, &job_id, &live).await,
        }
    }
    st.flush(&store, &job_id, &live).await;
    LogTotals {
        bytes: st.bytes,
        omitted: st.omitted,
        lines: st.n,
    }
}

#[derive(Default)]
struct PumpState {
    half: i64,
    n: i64,
    bytes: i64,
    omitted: i64,
    head_bytes: i64,
    /// Last line number of the head; lines after it belong to the tail.
    head_last: i64,
    in_tail: bool,
    /// (n, bytes) of the lines currently kept in the tail.
    tail: VecDeque<(i64, i64)>,
    tail_bytes: i64,
    /// Highest line number dropped from the tail so far.
    dropped_upto: i64,
    /// Whether stored tail lines up to `dropped_upto` still need deleting.
    dirty_drop: bool,
    /// Bytes of head lines not yet written.
    unflushed_head_bytes: i64,
}

impl PumpState {
    fn push(&mut self, raw: Raw, live: &LiveLog) {
        self.n += 1;
        let len = raw.text.len() as i64 + 1;
        let off = self.bytes;
        self.bytes += len;
        let line = Arc::new(LogLine {
            n: self.n,
            stream: raw.stream,
            time_ms: now_ms(),
            text: raw.text,
        });

        if !self.in_tail && self.head_bytes + len <= self.half {
            self.head_bytes += len;
            self.head_last = self.n;
            self.unflushed_head_bytes += len;
        } else {
            self.in_tail = true;
            self.tail.push_back((self.n, len));
            self.tail_bytes += len;
        }

        let mut unflushed = live.unflushed.lock().unwrap();
        unflushed.push_back((line.clone(), off));
        // Slide the tail window: forget the oldest tail lines beyond the budget.
        while self.tail_bytes > self.half && self.tail.len() > 1 {
            let (old_n, old_len) = self.tail.pop_front().unwrap();
            self.tail_bytes -= old_len;
            self.omitted += old_len;
            self.dropped_upto = old_n;
            self.dirty_drop = true;
            while unflushed
                .front()
                .is_some_and(|(l, _)| l.n <= old_n && l.n > self.head_last)
            {
                unflushed.pop_front();
            }
        }
        drop(unflushed);
        if live.lines.receiver_count() > 0 {
            let _ = live.lines.send(line);
        }
    }

    /// Whether head lines must be written now: past [`FLUSH_HEAD_BYTES`], or
    /// once the tail has begun. Head lines sit in front of the tail in
    /// `unflushed`, and only with them gone can the sliding window drop the
    /// oldest tail lines from memory, keeping it near `max_bytes / 2`.
    fn head_waiting(&self) -> bool {
        self.unflushed_head_bytes > 0
            && (self.in_tail || self.unflushed_head_bytes >= FLUSH_HEAD_BYTES)
    }

    async fn flush(&mut self, store: &Store, job_id: &str, live: &LiveLog) {
        let batch: Vec<PendingLine> = {
            let unflushed = live.unflushed.lock().unwrap();
            let (head_last, dropped) = (self.head_last, self.dropped_upto);
            unflushed
                .iter()
                // Tail lines already slid out of the window are never written.
                .filter(|(l, _)| l.n <= head_last || l.n > dropped)
                .map(|(l, off)| PendingLine {
                    n: l.n,
                    stream: l.stream,
                    time_ms: l.time_ms,
                    off: *off,
                    text: l.text.clone(),
                })
                .collect()
        };
        if batch.is_empty() && !self.dirty_drop {
            return;
        }
        let drop_range = self
            .dirty_drop
            .then_some((self.head_last, self.dropped_upto));
        let last = batch.last().map(|l| l.n);
        match store
            .write_log(job_id, &batch, drop_range, self.bytes, self.omitted, self.n)
            .await
        {
            Ok(()) => {
                self.dirty_drop = false;
                self.unflushed_head_bytes = 0;
                if let Some(last) = last {
                    let mut unflushed = live.unflushed.lock().unwrap();
                    while unflushed.front().is_some_and(|(l, _)| l.n <= last) {
                        unflushed.pop_front();
                    }
                }
            }
            // The lines stay in memory and go with the next tick's flush.
            Err(e) => {
                self.unflushed_head_bytes = 0;
                tracing::warn!(job.id = job_id, error = %e, "writing the log failed");
            }
        }
    }
}

/// A sender that writes Taskwright's own lines (set-up, kills) into the log.
#[derive(Clone)]
pub struct SystemLog(pub mpsc::Sender<Raw>);

impl SystemLog {
    pub async fn line(&self, text: impl Into<String>) {
        let _ = self
            .0
            .send(Raw {
                stream: LogStream::System,
                text: text.into(),
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8]) -> Vec<String> {
        let (tx, mut rx) = mpsc::channel(16);
        let input = input.to_vec();
        let reader = tokio::spawn(async move {
            read_stream(std::io::Cursor::new(input), LogStream::Stdout, tx).await
        });
        let mut out = Vec::new();
        while let Some(raw) = rx.recv().await {
            out.push(raw.text);
        }
        reader.await.unwrap();
        out
    }

    /// Regression: a line over the cap was cut inside a character, leaving
    /// replacement characters on both sides of the cut.
    #[tokio::test]
    async fn long_lines_are_cut_between_characters() {
        let line = "€".repeat(30_000); // 90,000 bytes, 3 per character
        let out = lines_of(format!("{line}\nnext\n").as_bytes()).await;
        assert_eq!(
            out.len(),
            3,
            "{:?}",
            out.iter().map(String::len).collect::<Vec<_>>()
        );
        assert!(out.iter().all(|l| !l.contains('\u{FFFD}')));
        assert_eq!(out[0].len() + out[1].len(), line.len());
        assert_eq!(format!("{}{}", out[0], out[1]), line);
        assert_eq!(out[2], "next");
    }

    /// CRLF endings are trimmed, a last line without a newline is kept, and
    /// invalid bytes become replacement characters without losing the line.
    #[tokio::test]
    async fn endings_and_invalid_bytes() {
        let out = lines_of(b"a\r\nb\xff\nlast").await;
        assert_eq!(out, vec!["a", "b\u{FFFD}", "last"]);
    }
}

//! The log of a running build as it is kept. In Postgres (`db::template_build_logs`): chunks of at
//! most `templates.log_chunk_bytes`, cut after a line end where one falls in the chunk, of which the
//! last `templates.log_max_chunks` are kept. In memory: only the text not yet written (itself
//! bounded by what the chunks would keep) and the last lines quoted in `error_message`.

use std::collections::VecDeque;

use db::template_build_logs::Piece;

/// Lines of the log quoted in `error_message`.
pub const TAIL_LINES: usize = 20;
/// Characters of one quoted line; the rest of a longer line is left out.
const TAIL_LINE_CHARS: usize = 500;

/// The log of one attempt, its progress, and what of it is still to be written.
pub struct BuildLog {
    chunks: Chunker,
    tail: Tail,
    pub progress: i32,
    current_step: Option<String>,
    /// Progress or the step changed since the last write.
    dirty: bool,
}

/// One write: the pieces of chunks to store, which chunks to keep, and the progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub pieces: Vec<Piece>,
    /// Chunks before this sequence number are dropped.
    pub keep_from_seq: i32,
    pub progress: i32,
    /// The step, when it changed.
    pub current_step: Option<String>,
}

impl BuildLog {
    pub fn new(chunk_bytes: usize, max_chunks: usize) -> Self {
        Self {
            chunks: Chunker::new(chunk_bytes, max_chunks),
            tail: Tail::default(),
            progress: 0,
            current_step: None,
            dirty: false,
        }
    }

    pub fn push(&mut self, text: &str) {
        // Postgres text holds no NUL.
        let text = text.replace('\0', "\u{FFFD}");
        let (progress, step) = (&mut self.progress, &mut self.current_step);
        let mut changed = false;
        self.tail.push(&text, |line| {
            // The classic builder's "Step 2/5 : RUN ..." lines.
            if let Some(rest) = line.strip_prefix("Step ")
                && let Some((counts, current)) = rest.split_once(" : ")
                && let Some((n, m)) = counts.split_once('/')
                && let (Ok(n), Ok(m)) = (n.parse::<i32>(), m.parse::<i32>())
                && m > 0
            {
                *progress = ((n - 1) * 100 / m).clamp(0, 99);
                *step = Some(current.chars().take(200).collect());
                changed = true;
            }
        });
        self.dirty |= changed;
        self.chunks.push(&text);
    }

    /// The last [`TAIL_LINES`] lines that are not blank.
    pub fn tail(&self) -> String {
        self.tail.text()
    }

    /// What to write now; `None` when nothing changed since the last write.
    pub fn write(&self) -> Option<Write> {
        if self.chunks.pending.is_empty() && !self.dirty {
            return None;
        }
        let (pieces, keep_from_seq) = self.chunks.plan();
        Some(Write {
            pieces,
            keep_from_seq,
            progress: self.progress,
            current_step: self.dirty.then(|| self.current_step.clone()).flatten(),
        })
    }

    /// `write` is stored.
    pub fn written(&mut self, write: &Write) {
        self.chunks.written(&write.pieces);
        self.dirty = false;
    }
}

/// The last lines of `text` that are not blank, as [`BuildLog::tail`] quotes them.
pub fn tail_of(text: &str) -> String {
    let mut tail = Tail::default();
    tail.push(text, |_| {});
    tail.text()
}

/// Cuts the log into chunks.
struct Chunker {
    max_bytes: usize,
    max_chunks: usize,
    /// The newest chunk stored: its number and size in bytes.
    open: Option<(i32, usize)>,
    /// Offset (in characters) of the first character of `pending`.
    offset: i64,
    /// Text not yet stored.
    pending: String,
    /// Chunks before this number are dropped at the next write: text after them was dropped
    /// unwritten, so they are not followed by what comes next.
    restart_from: i32,
}

impl Chunker {
    fn new(max_bytes: usize, max_chunks: usize) -> Self {
        Self {
            max_bytes,
            max_chunks: max_chunks.max(1),
            open: None,
            offset: 0,
            pending: String::new(),
            restart_from: 0,
        }
    }

    fn push(&mut self, text: &str) {
        self.pending.push_str(text);
        // While the database cannot be written, keep no more than the chunks would.
        let cap = self.max_bytes * self.max_chunks;
        if self.pending.len() > cap {
            let cut = ceil_char_boundary(&self.pending, self.pending.len() - cap);
            let dropped: String = self.pending.drain(..cut).collect();
            self.offset += dropped.chars().count() as i64;
            if let Some((seq, _)) = self.open {
                // The next text starts a chunk of its own, and the chunks before it go.
                self.open = Some((seq, self.max_bytes));
                self.restart_from = seq + 1;
            }
        }
    }

    /// The pieces `pending` is stored as, and the first chunk number to keep.
    fn plan(&self) -> (Vec<Piece>, i32) {
        let mut pieces = Vec::new();
        let (mut seq, mut used) = self.open.unwrap_or((0, 0));
        let mut start = self.offset;
        let mut rest = self.pending.as_str();
        while !rest.is_empty() {
            let room = self.max_bytes.saturating_sub(used);
            let cut = if rest.len() <= room {
                rest.len()
            } else if let Some(newline) = rest[..floor_char_boundary(rest, room)].rfind('\n') {
                newline + 1
            } else if used > 0 {
                // The line does not fit: it starts the next chunk.
                0
            } else {
                // A line longer than a chunk.
                floor_char_boundary(rest, room)
            };
            if cut == 0 {
                seq += 1;
                used = 0;
                continue;
            }
            let text = &rest[..cut];
            let end = start + text.chars().count() as i64;
            pieces.push(Piece {
                seq,
                start_offset: start,
                end_offset: end,
                text: text.to_owned(),
            });
            start = end;
            used += cut;
            rest = &rest[cut..];
        }
        let newest = pieces.last().map_or(seq, |p| p.seq);
        let keep_from = (newest - self.max_chunks as i32 + 1).max(self.restart_from);
        (pieces, keep_from.max(0))
    }

    fn written(&mut self, pieces: &[Piece]) {
        let Some(last) = pieces.last() else { return };
        let bytes: usize = pieces
            .iter()
            .filter(|p| p.seq == last.seq)
            .map(|p| p.text.len())
            .sum();
        let used = match self.open {
            Some((seq, used)) if seq == last.seq => used + bytes,
            _ => bytes,
        };
        self.open = Some((last.seq, used));
        self.offset = last.end_offset;
        self.pending.clear();
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The last lines that are not blank, each cut to [`TAIL_LINE_CHARS`].
#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
    /// The line not ended yet (its first characters).
    partial: String,
    partial_chars: usize,
}

impl Tail {
    /// Adds `text`, calling `on_line` with each line it ends.
    fn push(&mut self, text: &str, mut on_line: impl FnMut(&str)) {
        let mut rest = text;
        loop {
            let (piece, ended) = match rest.find('\n') {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            self.extend_partial(piece);
            let Some(after) = ended else { return };
            let line = std::mem::take(&mut self.partial);
            self.partial_chars = 0;
            let line = line.trim_end_matches('\r');
            on_line(line);
            if !line.trim().is_empty() {
                if self.lines.len() == TAIL_LINES {
                    self.lines.pop_front();
                }
                self.lines.push_back(line.to_owned());
            }
            rest = after;
        }
    }

    fn extend_partial(&mut self, piece: &str) {
        let room = TAIL_LINE_CHARS.saturating_sub(self.partial_chars);
        if room == 0 {
            return;
        }
        let taken: String = piece.chars().take(room).collect();
        self.partial_chars += taken.chars().count();
        self.partial.push_str(&taken);
    }

    fn text(&self) -> String {
        let partial = self.partial.trim_end_matches('\r');
        let skip = usize::from(!partial.trim().is_empty() && self.lines.len() == TAIL_LINES);
        let mut lines: Vec<&str> = self.lines.iter().skip(skip).map(String::as_str).collect();
        if !partial.trim().is_empty() {
            lines.push(partial);
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores every write in a model of the table; the kept text and the offsets of its chunks.
    #[derive(Default)]
    struct Table {
        chunks: std::collections::BTreeMap<i32, Piece>,
    }

    impl Table {
        fn store(&mut self, w: &Write) {
            for p in &w.pieces {
                self.chunks
                    .entry(p.seq)
                    .and_modify(|c| {
                        assert_eq!(
                            c.end_offset, p.start_offset,
                            "an append continues its chunk"
                        );
                        c.text.push_str(&p.text);
                        c.end_offset = p.end_offset;
                    })
                    .or_insert_with(|| p.clone());
            }
            self.chunks.retain(|&seq, _| seq >= w.keep_from_seq);
        }

        fn text(&self) -> String {
            self.chunks.values().map(|c| c.text.as_str()).collect()
        }

        fn first_offset(&self) -> i64 {
            self.chunks.values().next().map_or(0, |c| c.start_offset)
        }
    }

    fn flush(log: &mut BuildLog, table: &mut Table) {
        if let Some(w) = log.write() {
            table.store(&w);
            log.written(&w);
        }
    }

    #[test]
    fn steps_give_progress_and_the_tail_is_the_last_lines() {
        let mut log = BuildLog::new(1024, 4);
        log.push("Step 1/4 : FROM x\n ---> abc\nStep 3/");
        log.push("4 : RUN make\n");
        assert_eq!(log.progress, 50);
        assert_eq!(
            log.write().unwrap().current_step.as_deref(),
            Some("RUN make")
        );
        for i in 0..30 {
            log.push(&format!("line {i}\n\n"));
        }
        log.push("unfinished");
        let tail = log.tail();
        assert!(
            tail.starts_with("line 11\n") && tail.ends_with("line 29\nunfinished"),
            "{tail}"
        );
        assert_eq!(tail.lines().count(), TAIL_LINES);
        // A very long line is quoted by its start.
        log.push(&format!("{}\n", "x".repeat(10_000)));
        assert_eq!(log.tail().lines().last().unwrap().len(), TAIL_LINE_CHARS);
        assert_eq!(tail_of("a\n\nb\r\nc"), "a\nb\nc");
    }

    #[test]
    fn chunks_are_bounded_cut_at_line_ends_and_keep_offsets_contiguous() {
        let mut log = BuildLog::new(1024, 1000);
        let mut table = Table::default();
        let mut all = String::new();
        for i in 0..400 {
            // Lines of 10 to 99 bytes, some with two-byte characters, flushed every few lines.
            let line = format!("{i:04} {}\n", "é".repeat(i % 47));
            log.push(&line);
            all.push_str(&line);
            if i % 7 == 0 {
                flush(&mut log, &mut table);
            }
        }
        flush(&mut log, &mut table);
        assert_eq!(table.text(), all);
        let mut expected_start = 0;
        for c in table.chunks.values() {
            assert!(
                c.text.len() <= 1024,
                "chunk {} has {} bytes",
                c.seq,
                c.text.len()
            );
            assert!(c.text.ends_with('\n'), "chunk {} ends mid-line", c.seq);
            assert_eq!(c.start_offset, expected_start);
            assert_eq!(c.end_offset - c.start_offset, c.text.chars().count() as i64);
            expected_start = c.end_offset;
        }
        assert_eq!(expected_start, all.chars().count() as i64);
        assert!(table.chunks.len() > 10);
        assert!(log.write().is_none(), "nothing left to write");
    }

    #[test]
    fn a_line_longer_than_a_chunk_is_split_at_a_character() {
        let mut log = BuildLog::new(1024, 10);
        let mut table = Table::default();
        log.push("short\n");
        flush(&mut log, &mut table);
        let long = "ü".repeat(1500); // 3000 bytes
        log.push(&format!("{long}\nend\n"));
        flush(&mut log, &mut table);
        assert_eq!(table.text(), format!("short\n{long}\nend\n"));
        let sizes: Vec<usize> = table.chunks.values().map(|c| c.text.len()).collect();
        assert!(sizes.iter().all(|&s| s <= 1024), "{sizes:?}");
        assert_eq!(
            table.chunks[&0].text, "short\n",
            "the long line starts a chunk"
        );
    }

    #[test]
    fn past_the_chunk_count_the_oldest_go_and_the_tail_stays() {
        let mut log = BuildLog::new(1024, 4);
        let mut table = Table::default();
        let mut all = String::new();
        for i in 0..2000 {
            let line = format!("line {i:05} of the build\n");
            log.push(&line);
            all.push_str(&line);
            if i % 50 == 0 {
                flush(&mut log, &mut table);
            }
        }
        flush(&mut log, &mut table);
        assert_eq!(table.chunks.len(), 4);
        let kept = table.text();
        assert!(
            kept.len() <= 4 * 1024 && kept.len() > 3 * 1024,
            "{}",
            kept.len()
        );
        assert!(all.ends_with(&kept), "the kept text is the log's tail");
        assert!(kept.ends_with("line 01999 of the build\n"));
        assert_eq!(
            table.first_offset(),
            (all.chars().count() - kept.chars().count()) as i64
        );
    }

    #[test]
    fn text_that_could_not_be_written_is_bounded_and_the_gap_is_not_hidden() {
        let mut log = BuildLog::new(1024, 2);
        let mut table = Table::default();
        log.push("first\n");
        flush(&mut log, &mut table);
        // The database is away while 10 KiB are logged: 2 KiB of it are kept for later.
        let mut all = String::from("first\n");
        for i in 0..500 {
            let line = format!("lost {i:04}..\n"); // 12 bytes
            log.push(&line);
            all.push_str(&line);
        }
        assert!(log.chunks.pending.len() <= 2 * 1024);
        flush(&mut log, &mut table);
        let kept = table.text();
        assert!(
            !kept.contains("first"),
            "a chunk followed by a gap is dropped"
        );
        assert!(all.ends_with(&kept));
        assert!(kept.ends_with("lost 0499..\n"));
        assert_eq!(
            table.first_offset(),
            (all.chars().count() - kept.chars().count()) as i64
        );
    }

    #[test]
    fn nul_bytes_are_replaced() {
        let mut log = BuildLog::new(1024, 2);
        log.push("a\0b\n");
        assert_eq!(log.write().unwrap().pieces[0].text, "a\u{FFFD}b\n");
    }
}

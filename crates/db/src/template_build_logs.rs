//! `template_build_logs`: the log of each build's current attempt, in bounded chunks (the
//! `template-builder` crate cuts them). Offsets are characters of the log as it was written; chunks
//! dropped from its head leave the offsets of the rest unchanged, and a read from an offset before
//! the first kept chunk starts with [`truncation_marker`].

use sqlx::{PgConnection, PgExecutor};

use crate::template_builds::Attempt;

/// Text for one chunk: appended to chunk `seq` when it exists, else its first text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub seq: i32,
    /// Offsets of the piece's first character and of the one after it.
    pub start_offset: i64,
    pub end_offset: i64,
    pub text: String,
}

/// Stores `pieces` of `build`'s log and drops its chunks before `keep_from_seq`. Run in the
/// transaction in which [`crate::template_builds::progress`] found the attempt current.
pub async fn append(
    db: &mut PgConnection,
    build: Attempt,
    pieces: &[Piece],
    keep_from_seq: i32,
) -> Result<(), sqlx::Error> {
    let seqs: Vec<i32> = pieces.iter().map(|p| p.seq).collect();
    let starts: Vec<i64> = pieces.iter().map(|p| p.start_offset).collect();
    let ends: Vec<i64> = pieces.iter().map(|p| p.end_offset).collect();
    let texts: Vec<String> = pieces.iter().map(|p| p.text.clone()).collect();
    sqlx::query!(
        "INSERT INTO template_build_logs (template_id, attempt, seq, start_offset, end_offset, chunk)
         SELECT $1, $2, p.seq, p.start_offset, p.end_offset, p.chunk
         FROM unnest($3::int[], $4::bigint[], $5::bigint[], $6::text[])
              AS p(seq, start_offset, end_offset, chunk)
         ON CONFLICT (template_id, attempt, seq) DO UPDATE
            SET chunk = template_build_logs.chunk || EXCLUDED.chunk,
                end_offset = EXCLUDED.end_offset",
        build.template_id,
        build.attempt,
        &seqs,
        &starts,
        &ends,
        &texts,
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!(
        "DELETE FROM template_build_logs WHERE template_id = $1 AND attempt = $2 AND seq < $3",
        build.template_id,
        build.attempt,
        keep_from_seq,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The newest chunk of `build`'s log (for the tail quoted when the build is failed elsewhere).
pub async fn last_chunk(db: impl PgExecutor<'_>, build: Attempt) -> Result<String, sqlx::Error> {
    let chunk = sqlx::query_scalar!(
        "SELECT chunk FROM template_build_logs WHERE template_id = $1 AND attempt = $2
         ORDER BY seq DESC LIMIT 1",
        build.template_id,
        build.attempt,
    )
    .fetch_optional(db)
    .await?;
    Ok(chunk.unwrap_or_default())
}

/// What the log endpoint answers from an offset: the build's status and the kept log after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSlice {
    pub status: String,
    /// Offset of the first character kept (0 unless the head was dropped).
    pub first_offset: i64,
    /// Offset after the last character written.
    pub end_offset: i64,
    /// The kept text after the offset asked for.
    pub text: String,
}

impl LogSlice {
    /// The text a reader at `offset` gets, and the offset to send next: after a dropped head the
    /// text starts with the [`truncation_marker`].
    pub fn read(self, offset: i64) -> (String, i64) {
        let next = self.end_offset.max(offset);
        if offset < self.first_offset {
            let mut text = truncation_marker(self.first_offset - offset);
            text.push_str(&self.text);
            return (text, next);
        }
        (self.text, next)
    }
}

/// The line a log read starts with when `dropped` characters before it are not kept.
pub fn truncation_marker(dropped: i64) -> String {
    format!(
        "[warren: {dropped} earlier characters of this build log were dropped; only its tail is kept]\n"
    )
}

/// The log of one of `org_id`'s templates' current build from `offset` on.
pub async fn read(
    db: impl PgExecutor<'_>,
    org_id: i64,
    template_id: i64,
    offset: i64,
) -> Result<Option<LogSlice>, sqlx::Error> {
    sqlx::query_as!(
        LogSlice,
        r#"SELECT b.status,
                  COALESCE(min(l.start_offset), 0)::bigint AS "first_offset!",
                  COALESCE(max(l.end_offset), 0)::bigint AS "end_offset!",
                  COALESCE(string_agg(substr(l.chunk, (greatest($3 - l.start_offset, 0) + 1)::int), ''
                                      ORDER BY l.seq) FILTER (WHERE l.end_offset > $3), '')
                      AS "text!"
           FROM template_builds b
           JOIN templates t ON t.id = b.template_id
           LEFT JOIN template_build_logs l ON l.template_id = b.template_id AND l.attempt = b.attempt
           WHERE b.template_id = $1 AND t.organization_id = $2
           GROUP BY b.template_id, b.status"#,
        template_id,
        org_id,
        offset,
    )
    .fetch_optional(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(first: i64, end: i64, text: &str) -> LogSlice {
        LogSlice {
            status: "building".into(),
            first_offset: first,
            end_offset: end,
            text: text.into(),
        }
    }

    #[test]
    fn a_read_before_the_kept_tail_starts_with_the_marker_and_offsets_stay_absolute() {
        // Nothing dropped: the text from the offset, and the offset after it.
        assert_eq!(
            slice(0, 10, "0123456789").read(0),
            ("0123456789".into(), 10)
        );
        assert_eq!(slice(0, 10, "6789").read(6), ("6789".into(), 10));
        // 100 characters dropped: a reader from 0 (or from 40) is told, then gets the tail.
        let (text, next) = slice(100, 110, "tail line\n").read(40);
        assert_eq!(text, format!("{}tail line\n", truncation_marker(60)));
        assert!(text.starts_with("[warren: 60 earlier characters"), "{text}");
        assert_eq!(next, 110);
        // A reader inside the kept tail sees no marker; one past the end keeps its offset.
        assert_eq!(slice(100, 110, "line\n").read(105), ("line\n".into(), 110));
        assert_eq!(slice(0, 10, "").read(50), (String::new(), 50));
    }
}

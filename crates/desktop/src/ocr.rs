//! Text on the screen, through tesseract: OCR of a region, and finding a phrase's bounds. The pixels
//! are doubled and made grey first (tesseract reads screen-sized fonts much better at twice the size).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::Desktop;
use crate::error::{DesktopError, DesktopResult};
use crate::x11::{Rect, encode_gray_png};

const TESSERACT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(400);
const MAX_WAIT_SECONDS: u64 = 300;

/// `POST /desktop/x11/ocr`: a region (the whole screen when absent) and a language.
#[derive(Debug, Default, Deserialize)]
pub struct OcrRequest {
    pub x: Option<i32>,
    pub y: Option<i32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub language: Option<String>,
}

/// `POST /desktop/x11/{find_element,wait_for,get_bounds}`.
#[derive(Debug, Deserialize)]
pub struct FindRequest {
    pub text: String,
    /// Seconds (`wait_for` only).
    pub timeout: Option<u64>,
}

/// Where a phrase is on the screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Element {
    pub text: String,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    /// Tesseract's confidence of its least sure word, 0 to 100.
    pub confidence: f64,
}

/// The languages tesseract has, asked once.
#[derive(Default)]
pub struct Ocr {
    languages: OnceCell<Vec<String>>,
}

struct Word {
    line: (u32, u32, u32),
    text: String,
    rect: Rect,
    conf: f64,
}

/// Words of tesseract's TSV output (level 5 rows with text).
fn parse_tsv(tsv: &str) -> Vec<Word> {
    tsv.lines()
        .skip(1)
        .filter_map(|row| {
            let f: Vec<&str> = row.split('\t').collect();
            if f.len() < 12 || f[0] != "5" || f[11].trim().is_empty() {
                return None;
            }
            let n = |i: usize| f[i].parse::<u32>().ok();
            Some(Word {
                line: (n(2)?, n(3)?, n(4)?),
                text: f[11].trim().to_owned(),
                rect: Rect {
                    x: f[6].parse().ok()?,
                    y: f[7].parse().ok()?,
                    width: n(8)?,
                    height: n(9)?,
                },
                conf: f[10].parse().unwrap_or(0.0),
            })
        })
        .collect()
}

fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The first run of consecutive words on one line that holds `phrase`'s words, in screen pixels
/// (`scale`: how much the OCR'd image was enlarged; `origin`: where it was on the screen).
fn find(words: &[Word], phrase: &str, scale: i32, origin: (i32, i32)) -> Option<Element> {
    let wanted: Vec<String> = phrase
        .split_whitespace()
        .map(normalize)
        .filter(|w| !w.is_empty())
        .collect();
    if wanted.is_empty() {
        return None;
    }
    for start in 0..words.len() {
        let run = words.get(start..start + wanted.len())?;
        let same_line = run.iter().all(|w| w.line == run[0].line);
        let matches = run
            .iter()
            .zip(&wanted)
            .all(|(w, want)| normalize(&w.text).contains(want.as_str()));
        if same_line && matches {
            let x0 = run.iter().map(|w| w.rect.x).min()?;
            let y0 = run.iter().map(|w| w.rect.y).min()?;
            let x1 = run.iter().map(|w| w.rect.x + w.rect.width as i32).max()?;
            let y1 = run.iter().map(|w| w.rect.y + w.rect.height as i32).max()?;
            return Some(Element {
                text: run
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                x: origin.0 + x0 / scale,
                y: origin.1 + y0 / scale,
                width: ((x1 - x0) / scale).max(1) as u32,
                height: ((y1 - y0) / scale).max(1) as u32,
                confidence: run.iter().map(|w| w.conf).fold(100.0, f64::min),
            });
        }
    }
    None
}

impl Desktop {
    async fn check_language(&self, lang: &str) -> DesktopResult<()> {
        let langs = self
            .ocr
            .languages
            .get_or_try_init(|| async {
                let out = self
                    .run_ok("tesseract", &["--list-langs".into()], None, TESSERACT)
                    .await?;
                Ok::<_, DesktopError>(
                    out.stdout
                        .lines()
                        .skip(1)
                        .map(|l| l.trim().to_owned())
                        .filter(|l| !l.is_empty())
                        .collect(),
                )
            })
            .await?;
        let valid = lang.split('+').all(|l| langs.iter().any(|have| have == l));
        if valid {
            Ok(())
        } else {
            Err(DesktopError::new(
                400,
                "UNSUPPORTED_LANGUAGE",
                format!(
                    "No OCR language {lang:?}; this sandbox has {}",
                    langs.join(", ")
                ),
            )
            .with_detail("available", langs.clone()))
        }
    }

    /// Runs tesseract on `region` (the whole screen when `None`); `tsv` asks for word boxes.
    async fn tesseract(
        &self,
        region: Option<Rect>,
        lang: &str,
        tsv: bool,
    ) -> DesktopResult<(String, Rect)> {
        self.require("tesseract")?;
        self.check_language(lang).await?;
        let (rgb, width, height) = self.x.pixels(region).await?;
        let at = region.unwrap_or(Rect {
            x: 0,
            y: 0,
            width,
            height,
        });
        let png = encode_gray_png(&rgb, width, height, 2)?;
        let mut args = crate::args(&["stdin", "stdout", "-l", lang, "--psm", "3"]);
        if tsv {
            args.push("tsv".into());
        }
        let out = self
            .run_ok("tesseract", &args, Some(png), TESSERACT)
            .await?;
        Ok((out.stdout, at))
    }

    /// The text in a region; empty when there is none.
    pub async fn ocr(&self, req: &OcrRequest) -> DesktopResult<String> {
        let region = match (req.x, req.y, req.width, req.height) {
            (None, None, None, None) => None,
            (x, y, Some(width), Some(height)) => Some(Rect {
                x: x.unwrap_or(0),
                y: y.unwrap_or(0),
                width,
                height,
            }),
            _ => {
                return Err(DesktopError::invalid(
                    "give width and height with x and y, or no region",
                ));
            }
        };
        let lang = req.language.as_deref().unwrap_or("eng");
        let (text, _) = self.tesseract(region, lang, false).await?;
        Ok(text.trim().to_owned())
    }

    /// Where `text` is on the screen, if it is.
    pub async fn find_element(&self, text: &str) -> DesktopResult<Option<Element>> {
        if text.trim().is_empty() {
            return Err(DesktopError::invalid("text must not be empty"));
        }
        let (tsv, at) = self.tesseract(None, "eng", true).await?;
        Ok(find(&parse_tsv(&tsv), text, 2, (at.x, at.y)))
    }

    /// Waits up to `timeout` seconds for `text` to appear; 408 `WAIT_TIMEOUT` when it does not.
    pub async fn wait_for(&self, req: &FindRequest) -> DesktopResult<Element> {
        let seconds = req.timeout.unwrap_or(30);
        if !(1..=MAX_WAIT_SECONDS).contains(&seconds) {
            return Err(DesktopError::invalid(format!(
                "timeout must be 1 to {MAX_WAIT_SECONDS} seconds"
            )));
        }
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            if let Some(e) = self.find_element(&req.text).await? {
                return Ok(e);
            }
            if Instant::now() + POLL >= deadline {
                return Err(DesktopError::new(
                    408,
                    "WAIT_TIMEOUT",
                    format!(
                        "{:?} did not appear on the screen within {seconds} s",
                        req.text
                    ),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The bounds of `text`; 404 `ELEMENT_NOT_FOUND` when it is not on the screen.
    pub async fn bounds(&self, text: &str) -> DesktopResult<Element> {
        self.find_element(text).await?.ok_or_else(|| {
            DesktopError::new(
                404,
                "ELEMENT_NOT_FOUND",
                format!("{text:?} is not on the screen"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSV: &str = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
        1\t1\t0\t0\t0\t0\t0\t0\t2560\t1600\t-1\t\n\
        5\t1\t1\t1\t1\t1\t20\t40\t100\t30\t96.5\tHello,\n\
        5\t1\t1\t1\t1\t2\t130\t40\t120\t30\t91.0\tWarren\n\
        5\t1\t1\t1\t2\t1\t20\t90\t80\t30\t88.0\tworld\n";

    #[test]
    fn phrases_are_found_on_one_line_in_screen_pixels() {
        let words = parse_tsv(TSV);
        assert_eq!(words.len(), 3);
        let e = find(&words, "hello warren", 2, (100, 10)).unwrap();
        assert_eq!((e.x, e.y, e.width, e.height), (110, 30, 115, 15));
        assert_eq!(e.text, "Hello, Warren");
        assert!((e.confidence - 91.0).abs() < 1e-9);
        assert!(
            find(&words, "warren world", 2, (0, 0)).is_none(),
            "two lines"
        );
        assert!(find(&words, "absent", 2, (0, 0)).is_none());
        assert!(find(&words, "  ", 2, (0, 0)).is_none());
        assert!(find(&parse_tsv(""), "x", 2, (0, 0)).is_none());
    }
}
